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

  private VectorKernels() {}

  @Override
  public float maxOrNaN(float[] x, int n) {
    FloatVector max = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
    VectorMask<Float> bad = F.maskAll(false);
    int i = 0;
    for (int bound = F.loopBound(n); i < bound; i += F.length()) {
      FloatVector v = FloatVector.fromArray(F, x, i);
      bad = bad.or(v.test(VectorOperators.IS_NAN)).or(v.eq(Float.POSITIVE_INFINITY));
      max = max.max(v);
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
    while (i < bound) {
      int end = Math.min(bound, i + chunk);
      // Two accumulators, two vectors per iteration: independent work the core can overlap.
      FloatVector acc0 = FloatVector.zero(F);
      FloatVector acc1 = FloatVector.zero(F);
      for (; i + step < end; i += 2 * step) {
        acc0 = acc0.add(exp(FloatVector.fromArray(F, x, i).sub(max)));
        acc1 = acc1.add(exp(FloatVector.fromArray(F, x, i + step).sub(max)));
      }
      for (; i < end; i += step) {
        acc0 = acc0.add(exp(FloatVector.fromArray(F, x, i).sub(max)));
      }
      total += acc0.add(acc1).reduceLanes(VectorOperators.ADD);
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
    while (i < bound) {
      int end = Math.min(bound, i + ScalarKernels.CHUNK);
      FloatVector acc = FloatVector.zero(F);
      for (; i < end; i += F.length()) {
        FloatVector v = FloatVector.fromArray(F, x, i);
        acc = acc.add(exp(v.sub(max)).blend(0f, v.lt(t)));
      }
      total += acc.reduceLanes(VectorOperators.ADD);
    }
    for (; i < n; i++) {
      if (x[i] >= t) {
        total += dev.tally.spi.FastMath.expNonPositive(x[i] - max);
      }
    }
    return total;
  }

  /** {@code e^x} lane-wise for {@code x ≤ 0}, as {@code FastMath.expNonPositive}. */
  private static FloatVector exp(FloatVector x) {
    VectorMask<Float> underflow = x.lt(UNDERFLOW);
    x = x.max(UNDERFLOW).min(0f);
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
    return er.mul(scale).blend(0f, underflow);
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
