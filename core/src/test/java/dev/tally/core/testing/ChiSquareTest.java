package dev.tally.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

final class ChiSquareTest {
  @Test
  void criticalValuesMatchPublishedTables() {
    // Upper 0.1% points of χ² (NIST/SEMATECH e-Handbook, table 1.3.6.7.4).
    assertThat(ChiSquare.criticalValue(1, 0.001)).isCloseTo(10.828, within(0.001));
    assertThat(ChiSquare.criticalValue(2, 0.001)).isCloseTo(13.816, within(0.001));
    assertThat(ChiSquare.criticalValue(3, 0.001)).isCloseTo(16.266, within(0.001));
    assertThat(ChiSquare.criticalValue(7, 0.001)).isCloseTo(24.322, within(0.001));
    assertThat(ChiSquare.criticalValue(10, 0.001)).isCloseTo(29.588, within(0.001));
    assertThat(ChiSquare.criticalValue(100, 0.001)).isCloseTo(149.449, within(0.001));
    // Upper 5% points.
    assertThat(ChiSquare.criticalValue(1, 0.05)).isCloseTo(3.841, within(0.001));
    assertThat(ChiSquare.criticalValue(10, 0.05)).isCloseTo(18.307, within(0.001));
  }

  @Test
  void upperTailOfTwoDegreesIsAnExponential() {
    for (double x : new double[] {0.1, 1, 5, 20}) {
      assertThat(ChiSquare.upperTail(2, x)).isCloseTo(Math.exp(-x / 2), within(1e-12));
    }
  }

  @Test
  void statisticIsPearsons() {
    assertThat(ChiSquare.statistic(new long[] {10, 30}, new double[] {20, 20}))
        .isCloseTo(10.0, within(1e-12));
  }

  @Test
  void logGammaOfIntegersIsLogFactorial() {
    assertThat(ChiSquare.logGamma(1)).isCloseTo(0, within(1e-13));
    assertThat(ChiSquare.logGamma(6)).isCloseTo(Math.log(120), within(1e-12));
    assertThat(ChiSquare.logGamma(0.5)).isCloseTo(0.5 * Math.log(Math.PI), within(1e-12));
  }
}
