package dev.tally.core.testing;

/**
 * Pearson's chi-square goodness-of-fit for the statistical tests: the statistic, and the critical
 * value for a significance level computed from the chi-square distribution itself (regularised
 * incomplete gamma function, inverted by bisection) rather than from a table or an approximation.
 */
public final class ChiSquare {
  private ChiSquare() {}

  /** Σ (observed − expected)² / expected over the cells. */
  public static double statistic(long[] observed, double[] expected) {
    if (observed.length != expected.length) {
      throw new IllegalArgumentException("observed and expected differ in length");
    }
    double x = 0;
    for (int i = 0; i < observed.length; i++) {
      double d = observed[i] - expected[i];
      x += d * d / expected[i];
    }
    return x;
  }

  /** The x with P(X > x) = alpha for X ~ χ²(degreesOfFreedom). */
  public static double criticalValue(int degreesOfFreedom, double alpha) {
    double lo = 0;
    double hi = degreesOfFreedom + 20 * Math.sqrt(2.0 * degreesOfFreedom) + 50;
    for (int i = 0; i < 200; i++) {
      double mid = (lo + hi) / 2;
      if (upperTail(degreesOfFreedom, mid) > alpha) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return (lo + hi) / 2;
  }

  /** P(X > x) for X ~ χ²(k): the regularised upper incomplete gamma Q(k/2, x/2). */
  public static double upperTail(int k, double x) {
    double a = k / 2.0;
    double z = x / 2.0;
    if (z <= 0) {
      return 1.0;
    }
    if (z < a + 1) {
      return 1.0 - lowerSeries(a, z);
    }
    return upperContinuedFraction(a, z);
  }

  // Numerical Recipes §6.2: series for P(a, z), Lentz's continued fraction for Q(a, z).
  private static double lowerSeries(double a, double z) {
    double ap = a;
    double sum = 1.0 / a;
    double del = sum;
    for (int n = 0; n < 10_000; n++) {
      ap += 1;
      del *= z / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-16) {
        break;
      }
    }
    return sum * Math.exp(-z + a * Math.log(z) - logGamma(a));
  }

  private static double upperContinuedFraction(double a, double z) {
    double tiny = 1e-300;
    double b = z + 1 - a;
    double c = 1 / tiny;
    double d = 1 / b;
    double h = d;
    for (int i = 1; i < 10_000; i++) {
      double an = -i * (i - a);
      b += 2;
      d = an * d + b;
      if (Math.abs(d) < tiny) {
        d = tiny;
      }
      c = b + an / c;
      if (Math.abs(c) < tiny) {
        c = tiny;
      }
      d = 1 / d;
      double del = d * c;
      h *= del;
      if (Math.abs(del - 1) < 1e-16) {
        break;
      }
    }
    return Math.exp(-z + a * Math.log(z) - logGamma(a)) * h;
  }

  /** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits). */
  static double logGamma(double x) {
    double[] g = {0.99999999999980993, 676.5203681218851, -1259.1392167224028,
        771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
        9.9843695780195716e-6, 1.5056327351493116e-7};
    if (x < 0.5) {
      return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
    }
    x -= 1;
    double s = g[0];
    for (int i = 1; i < 9; i++) {
      s += g[i] / (x + i);
    }
    double t = x + 7.5;
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
  }
}
