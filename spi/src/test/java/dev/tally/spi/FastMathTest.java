package dev.tally.spi;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

final class FastMathTest {
  /** Worst relative error against {@code Math.exp} over a million points of {@code [from, to]}. */
  private static double worstRelativeError(float from, float to) {
    double worst = 0;
    for (int i = 0; i <= 1_000_000; i++) {
      float x = from + (to - from) * (i / 1e6f);
      double exact = Math.exp(x);
      worst = Math.max(worst, Math.abs(FastMath.expNonPositive(x) - exact) / exact);
    }
    return worst;
  }

  /** About one float32 rounding, near the max (where a softmax's mass is) and far below it. */
  @Test
  void theErrorIsAboutOneRoundingOverTheWholeRange() {
    assertThat(worstRelativeError(-1f, 0f)).isLessThan(1.5e-7);
    assertThat(worstRelativeError(-20f, -1f)).isLessThan(1.5e-7);
    assertThat(worstRelativeError(-87f, -20f)).isLessThan(1.5e-7);
  }

  @Test
  void edges() {
    assertThat(FastMath.expNonPositive(0f)).isEqualTo(1f);
    assertThat(FastMath.expNonPositive(-0f)).isEqualTo(1f);
    assertThat(FastMath.expNonPositive(-87.0001f)).isZero();
    assertThat(FastMath.expNonPositive(Float.NEGATIVE_INFINITY)).isZero();
    assertThat(FastMath.expNonPositive(-87f)).isPositive().isLessThan(2e-38f);
    assertThat(FastMath.expNonPositive(3f)).isEqualTo(1f); // documented clamp
  }
}
