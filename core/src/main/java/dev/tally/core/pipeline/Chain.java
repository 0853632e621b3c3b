package dev.tally.core.pipeline;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import java.util.Arrays;
import java.util.List;

/**
 * A compiled sampling chain: the processors in order, the selector, and what the row result needs
 * (end tokens, logprob settings). Immutable and shared by every row and step that uses it.
 */
public final class Chain {
  private final List<Stage> processors;
  private final Stage selector;
  private final int[] eosTokenIds;
  private final int[] stopTokenIds;
  private final int topLogprobs;
  private final boolean processedLogprobs;
  private final boolean explain;
  private final Long seed;
  private final int maxTokenId;
  private final String maxTokenField;
  private final int[] labelTokenIds;

  Chain(List<Stage> processors, Stage selector, int[] eosTokenIds, int[] stopTokenIds,
      int topLogprobs, boolean processedLogprobs, boolean explain, Long seed, int maxTokenId,
      String maxTokenField, int[] labelTokenIds) {
    this.processors = List.copyOf(processors);
    this.selector = selector;
    this.eosTokenIds = eosTokenIds.clone();
    this.stopTokenIds = stopTokenIds.clone();
    Arrays.sort(this.eosTokenIds);
    Arrays.sort(this.stopTokenIds);
    this.topLogprobs = topLogprobs;
    this.processedLogprobs = processedLogprobs;
    this.explain = explain;
    this.seed = seed;
    this.maxTokenId = maxTokenId;
    this.maxTokenField = maxTokenField;
    this.labelTokenIds = labelTokenIds.clone();
  }

  public List<Stage> processors() {
    return processors;
  }

  /** The selector, or {@code null} for a label-scoring chain. */
  public Stage selector() {
    return selector;
  }

  /** Label scoring: the labels in request order; empty when the row is sampled. */
  public int[] labelTokenIds() {
    return labelTokenIds.clone();
  }

  /** Whether the row is scored over labels instead of drawn. */
  public boolean scoresLabels() {
    return labelTokenIds.length > 0;
  }

  public boolean isEos(int tokenId) {
    return Arrays.binarySearch(eosTokenIds, tokenId) >= 0;
  }

  public boolean isStop(int tokenId) {
    return Arrays.binarySearch(stopTokenIds, tokenId) >= 0;
  }

  public int topLogprobs() {
    return topLogprobs;
  }

  public boolean processedLogprobs() {
    return processedLogprobs;
  }

  public boolean explain() {
    return explain;
  }

  /** The request's seed, or {@code null} when the server must choose one. */
  public Long seed() {
    return seed;
  }

  /**
   * Checks that every token id the chain's parameters name exists in a {@code vocabSize}
   * vocabulary.
   *
   * @throws TallyException {@link ErrorCode#INVALID_PARAMS} naming the field
   */
  public void checkVocabulary(int vocabSize) {
    if (maxTokenId >= vocabSize) {
      throw new TallyException(ErrorCode.INVALID_PARAMS, maxTokenField,
          maxTokenField + " names token id " + maxTokenId + ", outside the vocabulary of "
              + vocabSize);
    }
  }
}
