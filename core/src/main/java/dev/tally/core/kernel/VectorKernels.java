package dev.tally.core.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The loops of {@link ScalarKernels} with the Vector API, at the platform's preferred width, with
 * the same exp polynomial ({@link dev.tally.spi.FastMath}) lane-wise. Only loaded when the
 * {@code jdk.incubator.vector} module is present.
 */
final class VectorKernels implements Kernels {
  static final VectorKernels INSTANCE = new VectorKernels();

  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  private static final float LOG2E = 1.44269504088896341f;
  private static final float LN2_HI = 0.693359375f;
  private static final float LN2_LO = -2.12194440e-4f;
  private static final float ROUNDER = 12582912f;
  private static final float UNDERFLOW = -87.33654f;
  private static final FloatVector UNDERFLOW_VECTOR = FloatVector.broadcast(F, UNDERFLOW);

  private VectorKernels() {}

  @Override
  public float maxOrNaN(float[] x, int n) {
    FloatVector max = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
    VectorMask<Float> bad = F.maskAll(false);
    int i = 0;
    for (int bound = F.loopBound(n); i < bound; i += F.length()) {
      FloatVector v = FloatVector.fromArray(F, x, i);
      // NaN is the one value unequal to itself; compare() is intrinsified where test() is not.
      bad = bad.or(v.compare(VectorOperators.NE, v)).or(v.eq(Float.POSITIVE_INFINITY));
      max = max.blend(v, v.compare(VectorOperators.GT, max)); // compare+blend: always SIMD
    }
    float m = max.reduceLanes(VectorOperators.MAX);
    boolean anyBad = bad.anyTrue();
    for (; i < n; i++) {
      float v = x[i];
      anyBad |= v != v | v == Float.POSITIVE_INFINITY;
      m = Math.max(m, v);
    }
    return anyBad ? Float.NaN : m;
  }

  @Override
  public double sumExp(float[] x, int n, float max) {
    double total = 0;
    int chunk = ScalarKernels.CHUNK;
    int i = 0;
    int bound = F.loopBound(n);
    int step = F.length();
    float[] lanes = new float[step];
    while (i < bound) {
      int end = Math.min(bound, i + chunk);
      // One exp per iteration, kept small: C2 only turns Vector API calls into SIMD code when it
      // inlines the whole loop body, and an unrolled body blew its inlining budget.
      FloatVector acc = FloatVector.zero(F);
      for (; i < end; i += step) {
        acc = acc.add(exp(FloatVector.fromArray(F, x, i).sub(max)));
      }
      total += sumLanes(acc, lanes);
    }
    for (; i < n; i++) {
      total += dev.tally.spi.FastMath.expNonPositive(x[i] - max);
    }
    return total;
  }

  @Override
  public double sumExpAtLeast(float[] x, int n, float max, float t) {
    double total = 0;
    int i = 0;
    int bound = F.loopBound(n);
    float[] lanes = new float[F.length()];
    while (i < bound) {
      int end = Math.min(bound, i + ScalarKernels.CHUNK);
      FloatVector acc = FloatVector.zero(F);
      for (; i < end; i += F.length()) {
        FloatVector v = FloatVector.fromArray(F, x, i);
        acc = acc.add(exp(v.sub(max)).blend(FloatVector.zero(F), v.lt(t)));
      }
      total += sumLanes(acc, lanes);
    }
    for (; i < n; i++) {
      if (x[i] >= t) {
        total += dev.tally.spi.FastMath.expNonPositive(x[i] - max);
      }
    }
    return total;
  }

  /**
   * The lanes' sum, in double. A float ADD reduction is not intrinsified on every CPU (it must keep
   * lane order), and its fallback is slow; storing eight floats and adding them is not.
   */
  private static double sumLanes(FloatVector v, float[] lanes) {
    v.intoArray(lanes, 0);
    double sum = 0;
    for (float f : lanes) {
      sum += f;
    }
    return sum;
  }

  /**
   * {@code e^x} lane-wise for {@code x ≤ 0}, as {@code FastMath.expNonPositive}, except that
   * arguments below {@code -87.3} give {@code e^-87.3 ≈ 1e-38} instead of 0: no sum of a vocabulary
   * can tell, and a clamp is cheaper than a blend.
   */
  private static FloatVector exp(FloatVector x) {
    // Callers pass x - max, never above 0; only the low end needs a clamp.
    x = x.blend(UNDERFLOW_VECTOR, x.compare(VectorOperators.LT, UNDERFLOW));
    // mul then add, never fma: the same roundings as the scalar code, so the same results.
    FloatVector t = x.mul(LOG2E).add(ROUNDER);
    IntVector n = t.reinterpretAsInts().sub(0x4B400000);
    FloatVector nf = t.sub(ROUNDER);
    FloatVector r = x.sub(nf.mul(LN2_HI)).sub(nf.mul(LN2_LO));
    FloatVector p = FloatVector.broadcast(F, 1.9875691500e-4f);
    p = p.mul(r).add(1.3981999507e-3f);
    p = p.mul(r).add(8.3334519073e-3f);
    p = p.mul(r).add(4.1665795894e-2f);
    p = p.mul(r).add(1.6666665459e-1f);
    p = p.mul(r).add(5.0000001201e-1f);
    FloatVector er = p.mul(r).mul(r).add(r).add(1f);
    FloatVector scale = n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    return er.mul(scale);
  }

  @Override
  public int nextAtLeast(float[] x, int from, int n, float floor) {
    int i = from;
    for (int bound = F.loopBound(n - from) + from; i < bound; i += F.length()) {
      VectorMask<Float> hit = FloatVector.fromArray(F, x, i).compare(VectorOperators.GE, floor);
      if (hit.anyTrue()) {
        return i + hit.firstTrue();
      }
    }
    while (i < n && x[i] < floor) {
      i++;
    }
    return i;
  }

  @Override
  public int countAtLeast(float[] x, int n, float t) {
    int count = 0;
    int i = 0;
    for (int bound = F.loopBound(n); i < bound; i += F.length()) {
      count += FloatVector.fromArray(F, x, i).compare(VectorOperators.GE, t).trueCount();
    }
    for (; i < n; i++) {
      count += x[i] >= t ? 1 : 0;
    }
    return count;
  }

  @Override
  public String name() {
    return "vector-" + F.vectorBitSize();
  }
}
