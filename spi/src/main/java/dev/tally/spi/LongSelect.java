package dev.tally.spi;

/** Quickselect on a prefix of a {@code long[]}; package-private support for {@link Candidates}. */
final class LongSelect {
  private LongSelect() {}

  /**
   * Reorders {@code a[0, n)} so that its {@code k} smallest values occupy {@code a[0, k)}, in no
   * particular order. Expected O(n); median-of-three pivots avoid the sorted-input worst case.
   */
  static void smallest(long[] a, int n, int k) {
    int lo = 0;
    int hi = n - 1;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      long pivot = medianOf3(a[lo], a[mid], a[hi]);
      int i = lo;
      int j = hi;
      while (i <= j) {
        while (a[i] < pivot) {
          i++;
        }
        while (a[j] > pivot) {
          j--;
        }
        if (i <= j) {
          long t = a[i];
          a[i] = a[j];
          a[j] = t;
          i++;
          j--;
        }
      }
      // Now a[lo..j] <= pivot <= a[i..hi]; recurse into the side holding position k-1.
      if (k - 1 <= j) {
        hi = j;
      } else if (k - 1 >= i) {
        lo = i;
      } else {
        return;
      }
    }
  }

  private static long medianOf3(long a, long b, long c) {
    return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  }
}
