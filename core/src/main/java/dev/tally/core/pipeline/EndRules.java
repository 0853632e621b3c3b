package dev.tally.core.pipeline;

import dev.tally.core.vocab.StopStrings;
import dev.tally.core.vocab.Vocabulary;
import java.util.Arrays;

/** What ends a sequence: EOS and stop token ids, and stop strings over the vocabulary's bytes. */
public final class EndRules {
  private final int[] eosTokenIds;
  private final int[] stopTokenIds;
  private final Vocabulary vocabulary;
  private final StopStrings stopStrings;

  EndRules(int[] eosTokenIds, int[] stopTokenIds, Vocabulary vocabulary, StopStrings stopStrings) {
    this.eosTokenIds = eosTokenIds.clone();
    this.stopTokenIds = stopTokenIds.clone();
    Arrays.sort(this.eosTokenIds);
    Arrays.sort(this.stopTokenIds);
    this.vocabulary = vocabulary;
    this.stopStrings = stopStrings;
  }

  public boolean isEos(int tokenId) {
    return Arrays.binarySearch(eosTokenIds, tokenId) >= 0;
  }

  public boolean isStop(int tokenId) {
    return Arrays.binarySearch(stopTokenIds, tokenId) >= 0;
  }

  /** The vocabulary the request named, or {@code null}. */
  public Vocabulary vocabulary() {
    return vocabulary;
  }

  /** Never null; empty when the request has none (they need a vocabulary). */
  public StopStrings stopStrings() {
    return stopStrings;
  }
}
