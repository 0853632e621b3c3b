package dev.tally.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TopKeysTest {
  /** The stream's best k equal a full sort's first k, ties to the lower id, for any order. */
  @Test
  void keepsExactlyTheCanonicalBestK() {
    Random r = new Random(5);
    TopKeys top = new TopKeys();
    for (int trial = 0; trial < 200; trial++) {
      int n = 1 + r.nextInt(5000);
      int k = 1 + r.nextInt(trial % 2 == 0 ? 8 : 300);
      float[] x = new float[n];
      for (int i = 0; i < n; i++) {
        int kind = r.nextInt(8);
        x[i] = kind == 0 ? Float.NEGATIVE_INFINITY : kind == 1 ? 1.5f // many ties
            : kind == 2 ? (r.nextBoolean() ? 0f : -0f) : (float) r.nextGaussian();
      }
      int[] order = new int[n];
      for (int i = 0; i < n; i++) {
        order[i] = i;
      }
      if (trial % 3 == 0) { // ids out of order, as a list after an unsorted retain
        for (int i = n - 1; i > 0; i--) {
          int j = r.nextInt(i + 1);
          int t = order[i];
          order[i] = order[j];
          order[j] = t;
        }
      }
      top.start(k);
      for (int id : order) {
        if (x[id] >= top.floor()) {
          top.offer(x[id], id);
        }
      }
      int count = top.finish();
      long[] expected = new long[n];
      int finite = 0;
      for (int i = 0; i < n; i++) {
        if (x[i] != Float.NEGATIVE_INFINITY) {
          expected[finite++] = TopKeys.key(x[i], i);
        }
      }
      Arrays.sort(expected, 0, finite);
      assertThat(count).isEqualTo(Math.min(k, finite));
      assertThat(Arrays.copyOf(top.keys(), count)).containsExactly(Arrays.copyOf(expected, count));
    }
  }

  @Test
  void keysRoundTripAndOrderLikeTheCanonicalOrder() {
    float[] values = {Float.MAX_VALUE, 3f, 1f, 0f, -0f, -1f, -Float.MAX_VALUE};
    for (int i = 0; i < values.length; i++) {
      long key = TopKeys.key(values[i], 42);
      assertThat(TopKeys.id(key)).isEqualTo(42);
      assertThat(TopKeys.logit(key)).isEqualTo(values[i] == 0f ? 0f : values[i]);
      if (i > 0) {
        assertThat(TopKeys.key(values[i - 1], 7)).isLessThanOrEqualTo(TopKeys.key(values[i], 7));
      }
    }
    assertThat(TopKeys.key(2f, 1)).isLessThan(TopKeys.key(2f, 2)); // ties to the lower id
    assertThat(TopKeys.key(0f, 3)).isLessThan(TopKeys.key(-0f, 4)); // -0 ties with +0
  }
}
