package dev.tally.core.kernel;

import dev.tally.core.tensor.HalfFloats;
import dev.tally.spi.FastMath;

/** Plain loops; the reference the vector kernels are tested against. */
final class ScalarKernels implements Kernels {
  static final ScalarKernels INSTANCE = new ScalarKernels();
  /** Partial sums stay in float for this many terms, then join a double total. */
  static final int CHUNK = 1024;

  private ScalarKernels() {}

  @Override
  public float maxOrNaN(float[] x, int from, int to) {
    float max = Float.NEGATIVE_INFINITY;
    boolean bad = false;
    for (int i = from; i < to; i++) {
      float v = x[i];
      bad |= v != v | v == Float.POSITIVE_INFINITY;
      max = Math.max(max, v);
    }
    return bad ? Float.NaN : max;
  }

  @Override
  public double sumExp(float[] x, int n, float max) {
    double total = 0;
    for (int start = 0; start < n; start += CHUNK) {
      int end = Math.min(n, start + CHUNK);
      // Four accumulators: independent add chains the CPU can overlap.
      float s0 = 0;
      float s1 = 0;
      float s2 = 0;
      float s3 = 0;
      int i = start;
      for (; i + 3 < end; i += 4) {
        s0 += FastMath.expNonPositive(x[i] - max);
        s1 += FastMath.expNonPositive(x[i + 1] - max);
        s2 += FastMath.expNonPositive(x[i + 2] - max);
        s3 += FastMath.expNonPositive(x[i + 3] - max);
      }
      for (; i < end; i++) {
        s0 += FastMath.expNonPositive(x[i] - max);
      }
      total += (double) s0 + s1 + s2 + s3;
    }
    return total;
  }

  @Override
  public double sumExpInto(float[] x, int n, float max, float[] terms) {
    expInto(x, n, max, terms);
    double total = 0; // the grouping of sumExp, over the same terms
    for (int start = 0; start < n; start += CHUNK) {
      int end = Math.min(n, start + CHUNK);
      float s0 = 0;
      float s1 = 0;
      float s2 = 0;
      float s3 = 0;
      int i = start;
      for (; i + 3 < end; i += 4) {
        s0 += terms[i];
        s1 += terms[i + 1];
        s2 += terms[i + 2];
        s3 += terms[i + 3];
      }
      for (; i < end; i++) {
        s0 += terms[i];
      }
      total += (double) s0 + s1 + s2 + s3;
    }
    return total;
  }

  @Override
  public void widenBfloat16(short[] src, float[] dst, int from, int to) {
    for (int i = from; i < to; i++) {
      dst[i] = HalfFloats.fromBfloat16(src[i - from]);
    }
  }

  @Override
  public void widenFloat16(short[] src, float[] dst, int from, int to) {
    for (int i = from; i < to; i++) {
      dst[i] = HalfFloats.fromFloat16(src[i - from]);
    }
  }

  @Override
  public double sumExpAtLeast(float[] x, int n, float max, float t) {
    return dev.tally.spi.VocabKernels.SCALAR.sumExpAtLeast(x, n, max, t);
  }

  @Override
  public int nextAtLeast(float[] x, int from, int n, float floor) {
    return dev.tally.spi.VocabKernels.SCALAR.nextAtLeast(x, from, n, floor);
  }

  @Override
  public int countAtLeast(float[] x, int n, float t) {
    int count = 0;
    for (int i = 0; i < n; i++) {
      count += x[i] >= t ? 1 : 0;
    }
    return count;
  }

  @Override
  public String name() {
    return "scalar";
  }
}
