package dev.tally.core.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.core.testing.Sampling;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The vector kernels against the scalar reference, and both against double precision. Surefire
 * runs with {@code --add-modules jdk.incubator.vector}, so both are always available here.
 */
final class KernelsTest {
  private static final Kernels SCALAR = Kernels.scalar();
  private static final Kernels VECTOR = Kernels.vector();

  private static float[] logits(int n, long seed) {
    Random r = new Random(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (3 * r.nextGaussian());
    }
    return x;
  }

  @Test
  void vectorKernelsAreAvailableInTests() {
    assertThat(VECTOR).isNotNull();
    assertThat(VECTOR.name()).startsWith("vector-");
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 7, 8, 9, 1023, 1025, 32000, 128256, 256000})
  void vectorAndScalarAgreeAndBothMatchDoublePrecision(int n) {
    float[] x = logits(n, n);
    float max = SCALAR.maxOrNaN(x, n);
    assertThat(VECTOR.maxOrNaN(x, n)).isEqualTo(max);

    double exact = 0;
    for (float v : x) {
      exact += Math.exp((double) v - max);
    }
    double scalar = SCALAR.sumExp(x, n, max);
    double vector = VECTOR.sumExp(x, n, max);
    assertThat(scalar / exact).isCloseTo(1, within(1e-6));
    assertThat(vector / exact).isCloseTo(1, within(1e-6));
    // Same exp per element (see below): the sums differ only in float partial-sum rounding.
    assertThat(vector / scalar).isCloseTo(1, within(5e-7));
    // Over any sub-range (the row scan works a chunk at a time), the max is the same.
    int first = n / 3;
    int end = Math.max(first, n - n / 5);
    float part = Float.NEGATIVE_INFINITY;
    for (int i = first; i < end; i++) {
      part = Math.max(part, x[i]);
    }
    assertThat(SCALAR.maxOrNaN(x, first, end)).isEqualTo(part);
    assertThat(VECTOR.maxOrNaN(x, first, end)).isEqualTo(part);

    float t = x[n / 2];
    double above = 0;
    for (float v : x) {
      above += v >= t ? Math.exp((double) v - max) : 0;
    }
    assertThat(SCALAR.sumExpAtLeast(x, n, max, t) / above).isCloseTo(1, within(1e-6));
    assertThat(VECTOR.sumExpAtLeast(x, n, max, t) / above).isCloseTo(1, within(1e-6));
    int count = 0;
    for (float v : x) {
      count += v >= t ? 1 : 0;
    }
    for (int from : new int[] {0, 1, n / 3, n - 1}) {
      int expected = from;
      while (expected < n && x[expected] < t) {
        expected++;
      }
      assertThat(SCALAR.nextAtLeast(x, from, n, t)).isEqualTo(expected);
      assertThat(VECTOR.nextAtLeast(x, from, n, t)).isEqualTo(expected);
    }
    assertThat(VECTOR.nextAtLeast(x, 0, n, Float.POSITIVE_INFINITY)).isEqualTo(n);
    assertThat(SCALAR.countAtLeast(x, n, t)).isEqualTo(count);
    assertThat(VECTOR.countAtLeast(x, n, t)).isEqualTo(count);
  }

  /** The vector exp gives the bits of {@code FastMath.expNonPositive}, lane by lane. */
  @Test
  void vectorExpIsBitForBitTheScalarExp() {
    float[] lane = new float[64];
    // Each -inf lane adds e^-87 ≈ 1.6e-38: invisible next to e^-60 and above.
    java.util.Arrays.fill(lane, Float.NEGATIVE_INFINITY);
    Random r = new Random(3);
    for (int i = 0; i < 100_000; i++) {
      float x = i < 50 ? -i / 50f : -60f * r.nextFloat();
      lane[0] = x;
      float scalar = dev.tally.spi.FastMath.expNonPositive(x);
      assertThat((float) VECTOR.sumExp(lane, lane.length, 0f)).as("exp(%s)", x).isEqualTo(scalar);
    }
  }

  /**
   * {@code expInto} is {@code FastMath.expNonPositive} bit for bit on both kernels, underflow,
   * {@code -inf} and the scalar tail included: the seeded draw's terms, whose sums pick the token.
   */
  @Test
  void expIntoIsBitForBitTheScalarExp() {
    Random r = new Random(11);
    for (int n : new int[] {1, 15, 16, 17, 64, 1000, 32_003}) {
      float[] x = new float[n];
      for (int i = 0; i < n; i++) {
        int kind = r.nextInt(10);
        x[i] = kind == 0 ? Float.NEGATIVE_INFINITY : kind == 1 ? -87.5f - 10 * r.nextFloat()
            : kind == 2 ? -86.5f - r.nextFloat() : (float) (3 * r.nextGaussian());
      }
      float max = SCALAR.max(x, n);
      float[] scalar = new float[n];
      float[] vector = new float[n];
      SCALAR.expInto(x, n, max, scalar);
      VECTOR.expInto(x, n, max, vector);
      for (int i = 0; i < n; i++) {
        float expected = dev.tally.spi.FastMath.expNonPositive(x[i] - max);
        assertThat(Float.floatToRawIntBits(scalar[i])).as("scalar n=%d i=%d x=%s", n, i, x[i])
            .isEqualTo(Float.floatToRawIntBits(expected));
        assertThat(Float.floatToRawIntBits(vector[i])).as("vector n=%d i=%d x=%s", n, i, x[i])
            .isEqualTo(Float.floatToRawIntBits(expected));
      }
    }
  }

  /**
   * The Σexp pass that also keeps the terms gives sumExp's sum bit for bit and expInto's terms bit
   * for bit; sums and survivors over the kept terms agree with the loops that compute exps.
   */
  @Test
  void termsKeptInTheSumPassAreTheSameBits() {
    Random r = new Random(13);
    for (int n : new int[] {1, 15, 16, 17, 1000, 1025, 32_003, 128_256}) {
      float[] x = new float[n];
      for (int i = 0; i < n; i++) {
        int kind = r.nextInt(10);
        x[i] = kind == 0 ? Float.NEGATIVE_INFINITY : kind == 1 ? -90f - r.nextFloat()
            : (float) (3 * r.nextGaussian());
      }
      float max = SCALAR.max(x, n);
      for (Kernels k : new Kernels[] {SCALAR, VECTOR}) {
        float[] terms = new float[n];
        float[] expected = new float[n];
        k.expInto(x, n, max, expected);
        assertThat(Double.doubleToRawLongBits(k.sumExpInto(x, n, max, terms))).as(k.name())
            .isEqualTo(Double.doubleToRawLongBits(k.sumExp(x, n, max)));
        for (int i = 0; i < n; i++) {
          assertThat(Float.floatToRawIntBits(terms[i])).as("%s n=%d i=%d", k.name(), n, i)
              .isEqualTo(Float.floatToRawIntBits(expected[i]));
        }
        float t = max - 4f;
        assertThat(k.sumAtLeast(x, terms, n, t) / SCALAR.sumExpAtLeast(x, n, max, t))
            .as(k.name()).isCloseTo(1, within(1e-6));
        int[] got = new int[n];
        int[] want = new int[n];
        int count = dev.tally.spi.VocabKernels.SCALAR.indicesAtLeast(x, n, t, want);
        assertThat(k.indicesAtLeast(x, n, t, got)).isEqualTo(count);
        assertThat(java.util.Arrays.copyOf(got, count))
            .containsExactly(java.util.Arrays.copyOf(want, count));
      }
    }
  }

  @Test
  void nanAndPositiveInfinityAreReportedAsNaNWhereverTheyAre() {
    for (int n : new int[] {5, 64, 1001}) {
      for (int at : new int[] {0, n / 2, n - 1}) {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
          float[] x = logits(n, at);
          x[at] = bad;
          assertThat(SCALAR.maxOrNaN(x, n)).isNaN();
          assertThat(VECTOR.maxOrNaN(x, n)).isNaN();
          assertThat(VECTOR.maxOrNaN(x, at, Math.min(n, at + 17))).isNaN();
          if (at > 0) { // a range that ends before the bad value does not see it
            assertThat(VECTOR.maxOrNaN(x, 0, at)).isNotNaN();
            assertThat(SCALAR.maxOrNaN(x, 0, at)).isNotNaN();
          }
        }
      }
      float[] x = logits(n, 1);
      x[n - 1] = Float.NEGATIVE_INFINITY; // -inf is a masked token, not an error
      assertThat(VECTOR.maxOrNaN(x, n)).isEqualTo(SCALAR.maxOrNaN(x, n)).isNotNaN();
    }
  }

  @Test
  void extremeDifferencesUnderflowToZeroNotGarbage() {
    float[] x = {0f, -80f, -87f, -88f, -1000f, Float.NEGATIVE_INFINITY, -3.4e38f, 0f, 0f};
    double exact = 3 + Math.exp(-80) + Math.exp(-87);
    assertThat(SCALAR.sumExp(x, x.length, 0f) / exact).isCloseTo(1, within(1e-6));
    assertThat(VECTOR.sumExp(x, x.length, 0f) / exact).isCloseTo(1, within(1e-6));
  }

  /** The whole row path on either kernel set: same tokens, logprobs within 1e-5. */
  @Test
  void rowSamplerGivesTheSameTokensOnBothKernels() {
    RowSampler scalar = new RowSampler(SCALAR);
    RowSampler vector = new RowSampler(VECTOR);
    SamplingConfig config = new SamplingConfig().temperature(0.8f).topK(40).topP(0.95f)
        .minP(0.05f).repetitionPenalty(1.1f).topLogprobs(5);
    Chain chain = Sampling.compile(config);
    for (int seed = 0; seed < 20; seed++) {
      int n = 128256;
      LogitsTensor t = LogitsTensor.ofFloats(1, n, logits(n, 100 + seed));
      TokenLog history = TokenLog.of(new int[] {1, 2, 3, seed}, new int[] {seed * 7});
      RowResult a = scalar.sample(t, 0, chain, history, seed);
      RowResult b = vector.sample(t, 0, chain, history, seed);
      assertThat(b.tokenId()).isEqualTo(a.tokenId());
      assertThat(b.rank()).isEqualTo(a.rank());
      assertThat((double) b.logprob()).isCloseTo(a.logprob(), within(1e-5));
      assertThat(b.topIds()).containsExactly(a.topIds());
      for (int i = 0; i < a.topLogprobs().length; i++) {
        assertThat((double) b.topLogprobs()[i]).isCloseTo(a.topLogprobs()[i], within(1e-5));
      }
      assertThat(b.processedLogprob()).isEqualTo(a.processedLogprob());
    }
  }
}
