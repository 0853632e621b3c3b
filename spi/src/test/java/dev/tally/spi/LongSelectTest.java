package dev.tally.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

final class LongSelectTest {
  /** Runs smallest(a, n, k) and checks a[0,k) holds exactly the k smallest, a[0,n) a permutation. */
  private static void check(long[] input, int n, int k, String what) {
    long[] a = input.clone();
    LongSelect.smallest(a, n, k);
    long[] sorted = Arrays.copyOf(input, n);
    Arrays.sort(sorted);
    long[] head = Arrays.copyOf(a, k);
    Arrays.sort(head);
    assertThat(head).as("%s: the k smallest", what).containsExactly(Arrays.copyOf(sorted, k));
    long[] all = Arrays.copyOf(a, n);
    Arrays.sort(all);
    assertThat(all).as("%s: a permutation", what).containsExactly(sorted);
    assertThat(Arrays.copyOfRange(a, n, a.length)).as("%s: the tail is untouched", what)
        .containsExactly(Arrays.copyOfRange(input, n, input.length));
    if (k < n) {
      long maxHead = head[k - 1];
      for (int i = k; i < n; i++) {
        assertThat(a[i]).as("%s: a[%d] is not below the k-th", what, i)
            .isGreaterThanOrEqualTo(maxHead);
      }
    }
  }

  @Test
  void randomArraysAgainstArraysSort() {
    for (int seed = 0; seed < 2000; seed++) {
      Random rnd = new Random(seed);
      int n = 1 + rnd.nextInt(seed % 10 == 0 ? 3000 : 60);
      long[] a = new long[n + rnd.nextInt(3)]; // a prefix of a longer array
      int distinct = 1 + rnd.nextInt(seed % 3 == 0 ? 4 : 1_000_000);
      for (int i = 0; i < a.length; i++) {
        a[i] = rnd.nextInt(distinct) - distinct / 2;
      }
      int k = 1 + rnd.nextInt(n);
      check(a, n, k, "seed " + seed + " n=" + n + " k=" + k);
    }
  }

  @Test
  void everyKOnSmallArraysWithDuplicates() {
    long[] a = {5, 3, 5, 1, 3, 3, 9, 0, 5, 1};
    for (int k = 1; k <= a.length; k++) {
      check(a, a.length, k, "k=" + k);
    }
  }

  @Test
  void adversarialShapes() {
    int n = 1000;
    long[] ascending = new long[n];
    long[] descending = new long[n];
    long[] equal = new long[n];
    long[] organPipe = new long[n];
    long[] extremes = new long[n];
    for (int i = 0; i < n; i++) {
      ascending[i] = i;
      descending[i] = n - i;
      equal[i] = 42;
      organPipe[i] = Math.min(i, n - i);
      extremes[i] = i % 2 == 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
    for (int k : new int[] {1, 2, n / 2, n - 1, n}) {
      check(ascending, n, k, "ascending k=" + k);
      check(descending, n, k, "descending k=" + k);
      check(equal, n, k, "equal k=" + k);
      check(organPipe, n, k, "organ pipe k=" + k);
      check(extremes, n, k, "extremes k=" + k);
    }
  }

  @Test
  void singleElement() {
    check(new long[] {7}, 1, 1, "single");
  }
}
