package dev.tally.structured.automaton;

import dev.tally.spi.TokenVocabulary;
import java.util.Arrays;

/** A vocabulary of given token bytes; the listed ids are special. */
public final class TestVocabulary implements TokenVocabulary {
  private final byte[][] tokens;
  private final int[] special;
  private final int[] eos;

  public TestVocabulary(byte[][] tokens, int[] special, int[] eos) {
    this.tokens = tokens;
    this.special = special.clone();
    this.eos = eos.clone();
    Arrays.sort(this.special);
  }

  @Override
  public String name() {
    return "test";
  }

  @Override
  public int size() {
    return tokens.length;
  }

  @Override
  public boolean isText(int id) {
    return id >= 0 && id < tokens.length && Arrays.binarySearch(special, id) < 0;
  }

  @Override
  public int textLength(int id) {
    return isText(id) ? tokens[id].length : 0;
  }

  @Override
  public void copyTextTail(int id, int count, byte[] dst, int at) {
    System.arraycopy(tokens[id], tokens[id].length - count, dst, at, count);
  }

  @Override
  public int[] eosTokenIds() {
    return eos.clone();
  }

  @Override
  public String fingerprint() {
    return Integer.toHexString(Arrays.deepHashCode(tokens)) + Arrays.toString(special);
  }
}
