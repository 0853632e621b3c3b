package dev.tally.spi;

/**
 * The full-vocabulary loops {@link Candidates} runs while its list is still the whole vocabulary.
 * The server supplies fast implementations (SIMD where the JVM does it well); {@link #SCALAR} is
 * the portable one. Plugins call {@link Candidates} methods and never need this directly.
 */
public interface VocabKernels {
  /** The largest of {@code x[0, n)} (no NaN is ever passed). */
  float max(float[] x, int n);

  /** {@code Σ exp(x[i] - max)} over {@code [0, n)}, for {@code max ≥} every element. */
  double sumExp(float[] x, int n, float max);

  /** {@code Σ exp(x[i] - max)} over the elements with {@code x[i] ≥ t}. */
  double sumExpAtLeast(float[] x, int n, float max, float t);

  /**
   * The first index {@code i} in {@code [from, n)} with {@code x[i] ≥ floor}, or {@code n}: the
   * scan behind top-k style selections, where almost every token is below the floor.
   */
  int nextAtLeast(float[] x, int from, int n, float floor);

  /**
   * {@code out[i] = FastMath.expNonPositive(x[i] - max)} over {@code [0, n)}, bit for bit (0 for
   * {@code -Infinity} and for differences below the underflow limit), for {@code max ≥} every
   * element: the terms of a softmax, for a pass that needs each of them.
   */
  default void expInto(float[] x, int n, float max, float[] out) {
    for (int i = 0; i < n; i++) {
      out[i] = FastMath.expNonPositive(x[i] - max);
    }
  }

  /**
   * {@code Σ terms[i]} over the {@code i < n} with {@code x[i] ≥ t}: {@link #sumExpAtLeast} when
   * the terms of {@code x} are already known.
   */
  default double sumAtLeast(float[] x, float[] terms, int n, float t) {
    double sum = 0;
    for (int i = 0; i < n; i++) {
      if (x[i] >= t) {
        sum += terms[i];
      }
    }
    return sum;
  }

  /**
   * Writes the indices {@code i < n} with {@code x[i] ≥ t} to {@code out}, ascending, and returns
   * how many there are: the survivors of a threshold, however many there are.
   */
  default int indicesAtLeast(float[] x, int n, float t, int[] out) {
    int count = 0;
    for (int i = 0; i < n; i++) {
      if (x[i] >= t) {
        out[count++] = i;
      }
    }
    return count;
  }

  /**
   * {@code Σ Candidates.weight(terms[i])} over {@code [0, n)}: the exact fixed-point mass of softmax
   * terms. Integer sums do not depend on their order, so every implementation returns the same.
   */
  default long weightSum(float[] terms, int n) {
    long sum = 0;
    for (int i = 0; i < n; i++) {
      sum += Candidates.weight(terms[i]);
    }
    return sum;
  }

  /** {@link #weightSum} over the {@code i < n} with {@code x[i] ≥ t}. */
  default long weightSumAtLeast(float[] x, float[] terms, int n, float t) {
    long sum = 0;
    for (int i = 0; i < n; i++) {
      if (x[i] >= t) {
        sum += Candidates.weight(terms[i]);
      }
    }
    return sum;
  }

  /**
   * The first {@code i < n} at which the running {@link #weightSum} of {@code terms[0, i]} exceeds
   * {@code target}, or {@code n} when the whole sum does not: inverse-CDF sampling in fixed point.
   */
  default int weightIndexAbove(float[] terms, int n, long target) {
    long sum = 0;
    for (int i = 0; i < n; i++) {
      sum += Candidates.weight(terms[i]);
      if (sum > target) {
        return i;
      }
    }
    return n;
  }

  /** Plain loops over {@link FastMath#expNonPositive}. */
  VocabKernels SCALAR = new VocabKernels() {
    @Override
    public float max(float[] x, int n) {
      float max = Float.NEGATIVE_INFINITY;
      for (int i = 0; i < n; i++) {
        max = Math.max(max, x[i]);
      }
      return max;
    }

    @Override
    public double sumExp(float[] x, int n, float max) {
      double sum = 0;
      for (int i = 0; i < n; i++) {
        sum += FastMath.expNonPositive(x[i] - max);
      }
      return sum;
    }

    @Override
    public int nextAtLeast(float[] x, int from, int n, float floor) {
      int i = from;
      while (i < n && x[i] < floor) {
        i++;
      }
      return i;
    }

    @Override
    public double sumExpAtLeast(float[] x, int n, float max, float t) {
      double sum = 0;
      for (int i = 0; i < n; i++) {
        if (x[i] >= t) {
          sum += FastMath.expNonPositive(x[i] - max);
        }
      }
      return sum;
    }
  };
}
