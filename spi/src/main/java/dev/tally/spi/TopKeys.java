package dev.tally.spi;

import java.util.Arrays;

/**
 * The best {@code k} of a stream of tokens in canonical order (logit descending, then token id
 * ascending), in time linear in the stream: {@link Candidates#keepTop} uses it, and so does the
 * engine's first pass over a row for the raw top list and rank.
 *
 * <p>A token enters an append-only buffer when its logit reaches the {@link #floor()}; when the
 * buffer fills, a sort of the logits raises the floor to the k-th best and keeps the tokens at or
 * above it.
 * Scans skip everything below the floor with one comparison per token (in SIMD, with {@link
 * VocabKernels#nextAtLeast}), so the few hundred tokens that ever enter cost an append each, not a
 * heap operation. One instance is reused across rows; it is not thread-safe.
 *
 * <p>Each entry is a {@link #key canonical key}: sorting keys ascending gives canonical order.
 */
public final class TopKeys {
  // The floor rises only when the buffer fills, so a small buffer keeps it close behind the k-th
  // best; with rows of different tokens, 2k entries beat 4k and 8k (fewer stale appends, and a
  // shrink is one sort of a short run: docs/benchmarks.md).
  private static final int MIN_BUFFER = 64;

  private long[] buffer = new long[0];
  private int[] orders = new int[0];
  private int k;
  private int count;
  private float floor;

  /** Starts a new stream that keeps the best {@code k} (at least 1) of the tokens offered. */
  public void start(int k) {
    if (k <= 0) {
      throw new IllegalArgumentException("k must be positive: " + k);
    }
    int capacity = Math.max(MIN_BUFFER, 2 * k);
    if (buffer.length < capacity) {
      buffer = new long[capacity];
      orders = new int[capacity];
    }
    this.k = k;
    this.count = 0;
    this.floor = Float.NEGATIVE_INFINITY;
  }

  /**
   * No token with a logit below this can be among the best {@code k}: {@code -Infinity} until
   * {@code k} tokens were offered, then the k-th best logit of some earlier prefix. Rising only.
   */
  public float floor() {
    return floor;
  }

  /**
   * Offers a token. {@code -Infinity} logits are never kept; neither is a token below the floor
   * (callers usually skip those before calling).
   */
  public void offer(float logit, int id) {
    if (logit < floor || logit == Float.NEGATIVE_INFINITY) {
      return;
    }
    if (count == buffer.length) {
      shrinkToBest();
    }
    buffer[count++] = key(logit, id);
  }

  /**
   * Ends the stream: the best {@code min(k, offered)} keys, in canonical order, are {@code
   * keys()[0, n)}; returns n.
   */
  public int finish() {
    if (count > k) {
      shrinkToBest(); // then the long sort is of about k keys, not 2k
    }
    Arrays.sort(buffer, 0, count);
    count = Math.min(count, k);
    return count;
  }

  /** The keys; after {@link #finish()}, the best ones first. */
  public long[] keys() {
    return buffer;
  }

  // Raises the floor to the k-th best logit and keeps the tokens at or above it. Sorting only the
  // keys' 32-bit logit halves: int sorts are vectorised on every x86 JDK 22+ runs on (long sorts
  // only where AVX-512 sorting is enabled: not on AMD's Zen 4), and ties at the floor may stay.
  private void shrinkToBest() {
    for (int i = 0; i < count; i++) {
      orders[i] = (int) (buffer[i] >> 32);
    }
    Arrays.sort(orders, 0, count);
    int cut = orders[k - 1];
    int kept = 0;
    for (int i = 0; i < count; i++) {
      long key = buffer[i];
      if ((int) (key >> 32) <= cut) {
        buffer[kept++] = key;
      }
    }
    if (kept == count) { // the floor's logit fills the buffer: cut its ties by id
      Arrays.sort(buffer, 0, count);
      kept = k;
    }
    count = kept;
    floor = logit((long) cut << 32);
  }

  /**
   * The canonical sort key of a token: the high half is the logit's bits mapped so that ascending
   * signed order is descending float order ({@code -0} folded into {@code +0}), the low half the
   * token id. Sorting keys ascending gives logit descending, id ascending, with no comparator.
   */
  public static long key(float logit, int id) {
    int bits = Float.floatToIntBits(logit + 0.0f); // folds -0 into +0 so they tie
    int ordered = bits ^ ((bits >> 31) & 0x7fffffff);
    return ((long) ~ordered << 32) | (id & 0xffffffffL);
  }

  /** The token id of a {@link #key}. */
  public static int id(long key) {
    return (int) key;
  }

  /** The logit of a {@link #key} ({@code -0} comes back as {@code +0}). */
  public static float logit(long key) {
    int ordered = ~(int) (key >> 32);
    int bits = ordered ^ ((ordered >> 31) & 0x7fffffff);
    return Float.intBitsToFloat(bits);
  }
}
