package dev.tally.core.random;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.testing.ChiSquare;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

final class CounterRandomTest {
  @Test
  void isInUnitIntervalWith53BitResolution() {
    for (long c = 0; c < 20_000; c++) {
      double u = CounterRandom.uniform(42, c, 0);
      assertThat(u).isGreaterThanOrEqualTo(0.0).isLessThan(1.0);
      double scaled = u * 0x1p53;
      assertThat(scaled).isEqualTo(Math.rint(scaled)); // a multiple of 2^-53
    }
  }

  @Test
  void isAPureFunctionOfSeedCounterAndStream() {
    assertThat(CounterRandom.uniform(7, 3, 0)).isEqualTo(CounterRandom.uniform(7, 3, 0));
    assertThat(CounterRandom.uniform(-1L, Long.MAX_VALUE, 1024))
        .isEqualTo(CounterRandom.uniform(-1L, Long.MAX_VALUE, 1024));
  }

  @Test
  void differsAcrossSeedCounterAndStream() {
    double base = CounterRandom.uniform(7, 3, 0);
    assertThat(CounterRandom.uniform(8, 3, 0)).isNotEqualTo(base);
    assertThat(CounterRandom.uniform(7 + (1L << 32), 3, 0)).isNotEqualTo(base); // high seed word
    assertThat(CounterRandom.uniform(7, 4, 0)).isNotEqualTo(base);
    assertThat(CounterRandom.uniform(7, 3 + (1L << 32), 0)).isNotEqualTo(base); // high counter word
    assertThat(CounterRandom.uniform(7, 3, 1)).isNotEqualTo(base);

    Set<Double> seen = new HashSet<>();
    for (int seed = 0; seed < 100; seed++) {
      for (int counter = 0; counter < 100; counter++) {
        seen.add(CounterRandom.uniform(seed, counter, 0));
      }
    }
    assertThat(seen).hasSize(10_000);
  }

  @Test
  void layoutIsPhiloxOfCounterStreamUnderTheSeed() {
    // Pinned: draws must stay reproducible across releases. Key = seed (low, high word); counter
    // block = (counter low, counter high, stream, 0); 26 + 27 bits of the first two output words.
    long seed = 0x0123456789abcdefL;
    long counter = 0xfedcba9876543210L;
    int[] out = new int[4];
    Philox.block(0x76543210, 0xfedcba98, 5, 0, 0x89abcdef, 0x01234567, out);
    long bits = ((long) (out[0] >>> 6) << 27) | (out[1] >>> 5);
    assertThat(CounterRandom.uniform(seed, counter, 5)).isEqualTo(bits * 0x1p-53);

    // From the all-zero known answer 6627e8d5 e169c58d: (0x6627e8d5 >>> 6, 0xe169c58d >>> 5).
    long zero = ((long) (0x6627e8d5 >>> 6) << 27) | (0xe169c58dL >>> 5);
    assertThat(CounterRandom.uniform(0, 0, 0)).isEqualTo(zero * 0x1p-53);
  }

  @Test
  void chiSquareUniformityOver100kDraws() {
    int bins = 100;
    int draws = 100_000;
    long[] observed = new long[bins];
    for (int c = 0; c < draws; c++) {
      observed[(int) (CounterRandom.uniform(20240229L, c, 0) * bins)]++;
    }
    double[] expected = new double[bins];
    java.util.Arrays.fill(expected, (double) draws / bins);
    double x2 = ChiSquare.statistic(observed, expected);
    double critical = ChiSquare.criticalValue(bins - 1, 0.001); // 148.23
    assertThat(x2).as("chi-square with %d dof", bins - 1).isLessThan(critical);
  }

  @Test
  void chiSquareUniformityAcrossSeedsAndStreams() {
    int bins = 64;
    long[] bySeed = new long[bins];
    long[] byStream = new long[bins];
    for (int i = 0; i < 64_000; i++) {
      bySeed[(int) (CounterRandom.uniform(i, 0, 0) * bins)]++;
      byStream[(int) (CounterRandom.uniform(99, 0, i) * bins)]++;
    }
    double[] expected = new double[bins];
    java.util.Arrays.fill(expected, 1000.0);
    double critical = ChiSquare.criticalValue(bins - 1, 0.001);
    assertThat(ChiSquare.statistic(bySeed, expected)).isLessThan(critical);
    assertThat(ChiSquare.statistic(byStream, expected)).isLessThan(critical);
  }

  /**
   * DeriveSeed's published vectors (docs/decode-modes.md; the Python client's derive_seed pins the
   * same ones from its own Philox): (seed, index) to the derived seed.
   */
  @Test
  void derivedSeedsArePinned() {
    long[][] vectors = {
        {0, 0, 0x1348e23f2dce73e5L},
        {0, 1, 0x510c4549e9535be3L},
        {1, 0, 0x1e047488127bee41L},
        {42, 0, 0x9807e02220439b04L},
        {42, 1, 0x5a936ff51f858d22L},
        {42, 7, 0xd53e8e3dd9c2c303L},
        {0x0123456789abcdefL, 3, 0x3d09dc50958b3c87L},
        {-1L, 0xffffffffL, 0xdfb9c3627520aa8bL},
        {20261207L, 1L << 32, 0x7fcdcf6c09be965dL}};
    for (long[] v : vectors) {
      assertThat(CounterRandom.deriveSeed(v[0], v[1])).as("seed %d index %d", v[0], v[1])
          .isEqualTo(v[2]);
    }
    // The layout: words 0 and 1 of the block (index low, index high, 0, 1) under the seed.
    int[] out = new int[4];
    Philox.block(7, 0, 0, 1, 42, 0, out);
    assertThat(CounterRandom.deriveSeed(42, 7))
        .isEqualTo((out[0] & 0xffffffffL) | ((long) out[1] << 32));
  }

  /** Unlike seed + index, child i + 1 of seed s is not child i of seed s + 1; all are distinct. */
  @Test
  void derivedSeedsOfNeighbouringSeedsNeverCoincide() {
    Set<Long> seen = new HashSet<>();
    for (long seed = 0; seed < 200; seed++) {
      for (long index = 0; index < 200; index++) {
        assertThat(seen.add(CounterRandom.deriveSeed(seed, index))).as("%d %d", seed, index)
            .isTrue();
      }
    }
  }
}
