package dev.tally.spi;

import java.util.Arrays;

/**
 * A sparse map from token id to an additive bias, as two parallel primitive arrays sorted by token
 * id (no duplicates). The value of a {@link ParamType#TOKEN_BIAS} parameter.
 */
public final class TokenBias {
  private static final TokenBias EMPTY = new TokenBias(new int[0], new float[0]);

  private final int[] tokenIds;
  private final float[] biases;

  private TokenBias(int[] tokenIds, float[] biases) {
    this.tokenIds = tokenIds;
    this.biases = biases;
  }

  /** No bias at all. */
  public static TokenBias empty() {
    return EMPTY;
  }

  /**
   * Copies and sorts the pairs.
   *
   * @throws IllegalArgumentException if the arrays differ in length or an id repeats
   */
  public static TokenBias of(int[] tokenIds, float[] biases) {
    if (tokenIds.length != biases.length) {
      throw new IllegalArgumentException("token ids and biases differ in length");
    }
    long[] packed = new long[tokenIds.length];
    for (int i = 0; i < packed.length; i++) {
      packed[i] = ((long) tokenIds[i] << 32) | (Float.floatToRawIntBits(biases[i]) & 0xffffffffL);
    }
    Arrays.sort(packed);
    int[] ids = new int[packed.length];
    float[] values = new float[packed.length];
    for (int i = 0; i < packed.length; i++) {
      ids[i] = (int) (packed[i] >> 32);
      values[i] = Float.intBitsToFloat((int) packed[i]);
      if (i > 0 && ids[i] == ids[i - 1]) {
        throw new IllegalArgumentException("token id " + ids[i] + " appears twice");
      }
    }
    return new TokenBias(ids, values);
  }

  /** Number of entries. */
  public int size() {
    return tokenIds.length;
  }

  /** The token id of entry {@code i}, ascending in {@code i}. */
  public int tokenId(int i) {
    return tokenIds[i];
  }

  /** The bias of entry {@code i}. */
  public float bias(int i) {
    return biases[i];
  }
}
