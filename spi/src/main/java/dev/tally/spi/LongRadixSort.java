package dev.tally.spi;

/**
 * A stable LSD radix sort of {@code long}s by their high 32 bits (as a signed int); package-private
 * support for {@link Candidates}. Stability is the point: candidate keys are {@code (ordered logit
 * << 32) | id}, and a list that is in id order already comes out in full canonical order after
 * sorting on the logit half alone, in a few linear passes instead of a comparison sort.
 */
final class LongRadixSort {
  private static final int DIGIT_BITS = 11;
  private static final int BUCKETS = 1 << DIGIT_BITS;

  private final int[] counts = new int[BUCKETS];
  private long[] buffer = new long[0];

  /** Sorts {@code a[0, n)} by {@code (int) (a[i] >> 32)}, stably. */
  void sortByHigh(long[] a, int n) {
    if (n < 2) {
      return;
    }
    int min = Integer.MAX_VALUE;
    int max = Integer.MIN_VALUE;
    for (int i = 0; i < n; i++) {
      int high = (int) (a[i] >> 32);
      min = Math.min(min, high);
      max = Math.max(max, high);
    }
    // Only the bits that differ need passes: logits near one another share their top bits.
    long range = (long) max - min;
    int bits = 64 - Long.numberOfLeadingZeros(range);
    if (buffer.length < n) {
      buffer = new long[Math.max(n, buffer.length * 2)];
    }
    long[] from = a;
    long[] to = buffer;
    for (int shift = 0; shift < bits; shift += DIGIT_BITS) {
      java.util.Arrays.fill(counts, 0);
      for (int i = 0; i < n; i++) {
        counts[digit(from[i], min, shift)]++;
      }
      int sum = 0;
      for (int b = 0; b < BUCKETS; b++) {
        int c = counts[b];
        counts[b] = sum;
        sum += c;
      }
      for (int i = 0; i < n; i++) {
        long key = from[i];
        to[counts[digit(key, min, shift)]++] = key;
      }
      long[] t = from;
      from = to;
      to = t;
    }
    if (from != a) {
      System.arraycopy(from, 0, a, 0, n);
    }
  }

  private static int digit(long key, int min, int shift) {
    // The offset from the minimum is in [0, 2^32): unsigned, so >>> on its long value.
    long offset = ((key >> 32) - min) & 0xffffffffL;
    return (int) (offset >>> shift) & (BUCKETS - 1);
  }
}
