package dev.tally.core.kernel;

import dev.tally.core.tensor.HalfFloats;
import dev.tally.spi.Candidates;
import dev.tally.spi.FastMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The loops of {@link ScalarKernels} with the Vector API, at the platform's preferred width, with
 * the same exp polynomial ({@link dev.tally.spi.FastMath}) lane-wise. Only loaded when the
 * {@code jdk.incubator.vector} module is present.
 */
final class VectorKernels implements Kernels {
  static final VectorKernels INSTANCE = new VectorKernels();

  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Integer> I = F.withLanes(int.class);
  /** Shorts with as many lanes as {@link #F}, for widening 16-bit floats. */
  private static final VectorSpecies<Short> S =
      VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
  private static final FloatVector ZERO = FloatVector.zero(F);
  private static final FloatVector UNDERFLOW = FloatVector.broadcast(F, FastMath.UNDERFLOW);
  private static final FloatVector MINUS_LN2_HI = FloatVector.broadcast(F, -FastMath.LN2_HI);
  private static final FloatVector MINUS_LN2_LO = FloatVector.broadcast(F, -FastMath.LN2_LO);
  private static final FloatVector C0 = FloatVector.broadcast(F, FastMath.C0);
  private static final FloatVector C1 = FloatVector.broadcast(F, FastMath.C1);
  private static final FloatVector C2 = FloatVector.broadcast(F, FastMath.C2);
  private static final FloatVector C3 = FloatVector.broadcast(F, FastMath.C3);
  private static final FloatVector C4 = FloatVector.broadcast(F, FastMath.C4);
  private static final FloatVector C5 = FloatVector.broadcast(F, FastMath.C5);
  private static final FloatVector C6 = FloatVector.broadcast(F, FastMath.C6);

  private VectorKernels() {}

  @Override
  public float maxOrNaN(float[] x, int from, int to) {
    // Two independent chains: a compare+blend's latency, not the loads, bounds a single chain.
    FloatVector max0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
    FloatVector max1 = max0;
    // "Not at most Float.MAX_VALUE" is NaN or +Inf in one compare (-Inf is a masked token).
    VectorMask<Float> ok0 = F.maskAll(true);
    VectorMask<Float> ok1 = ok0;
    int i = from;
    int step = F.length();
    for (int bound = to - 2 * step; i <= bound; i += 2 * step) {
      FloatVector v0 = FloatVector.fromArray(F, x, i);
      FloatVector v1 = FloatVector.fromArray(F, x, i + step);
      ok0 = ok0.and(v0.compare(VectorOperators.LE, Float.MAX_VALUE));
      ok1 = ok1.and(v1.compare(VectorOperators.LE, Float.MAX_VALUE));
      max0 = max0.blend(v0, v0.compare(VectorOperators.GT, max0)); // compare+blend: always SIMD
      max1 = max1.blend(v1, v1.compare(VectorOperators.GT, max1));
    }
    max0 = max0.blend(max1, max1.compare(VectorOperators.GT, max0));
    float m = max0.reduceLanes(VectorOperators.MAX);
    boolean anyBad = !ok0.and(ok1).allTrue();
    for (; i < to; i++) {
      float v = x[i];
      anyBad |= !(v <= Float.MAX_VALUE);
      m = Math.max(m, v);
    }
    return anyBad ? Float.NaN : m;
  }

  @Override
  public double sumExp(float[] x, int n, float max) {
    double total = 0;
    int i = 0;
    int bound = F.loopBound(n);
    float[] lanes = new float[F.length()];
    while (i < bound) {
      int end = Math.min(bound, i + ScalarKernels.CHUNK);
      // One exp per iteration, kept small: C2 only turns Vector API calls into SIMD code when it
      // inlines the whole loop body, and an unrolled body blew its inlining budget.
      FloatVector acc = FloatVector.zero(F);
      for (; i < end; i += F.length()) {
        acc = acc.add(exp(FloatVector.fromArray(F, x, i).sub(max)));
      }
      total += sumLanes(acc, lanes);
    }
    for (; i < n; i++) {
      total += FastMath.expNonPositive(x[i] - max);
    }
    return total;
  }

  @Override
  public double sumExpInto(float[] x, int n, float max, float[] terms) {
    double total = 0;
    int i = 0;
    int bound = F.loopBound(n);
    float[] lanes = new float[F.length()];
    while (i < bound) {
      int end = Math.min(bound, i + ScalarKernels.CHUNK);
      FloatVector acc = FloatVector.zero(F);
      for (; i < end; i += F.length()) {
        FloatVector d = FloatVector.fromArray(F, x, i).sub(max);
        FloatVector e = exp(d);
        acc = acc.add(e); // sumExp's sum (below the underflow limit, exp's clamp) ...
        e.blend(ZERO, d.compare(VectorOperators.LT, UNDERFLOW)).intoArray(terms, i); // expInto's
      }
      total += sumLanes(acc, lanes);
    }
    for (; i < n; i++) {
      terms[i] = FastMath.expNonPositive(x[i] - max);
      total += terms[i];
    }
    return total;
  }

  @Override
  public double sumAtLeast(float[] x, float[] terms, int n, float t) {
    double total = 0;
    int i = 0;
    int bound = F.loopBound(n);
    float[] lanes = new float[F.length()];
    while (i < bound) {
      int end = Math.min(bound, i + ScalarKernels.CHUNK);
      FloatVector acc = FloatVector.zero(F);
      for (; i < end; i += F.length()) {
        FloatVector e = FloatVector.fromArray(F, terms, i);
        acc = acc.add(e.blend(ZERO, FloatVector.fromArray(F, x, i).compare(VectorOperators.LT, t)));
      }
      total += sumLanes(acc, lanes);
    }
    for (; i < n; i++) {
      if (x[i] >= t) {
        total += terms[i];
      }
    }
    return total;
  }

  @Override
  public int indicesAtLeast(float[] x, int n, float t, int[] out) {
    int count = 0;
    int i = 0;
    for (int bound = F.loopBound(n); i < bound; i += F.length()) {
      long hits = FloatVector.fromArray(F, x, i).compare(VectorOperators.GE, t).toLong();
      while (hits != 0) { // one lane per set bit: no rescan of the vector per survivor
        out[count++] = i + Long.numberOfTrailingZeros(hits);
        hits &= hits - 1;
      }
    }
    for (; i < n; i++) {
      if (x[i] >= t) {
        out[count++] = i;
      }
    }
    return count;
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
        acc = acc.add(exp(v.sub(max)).blend(ZERO, v.compare(VectorOperators.LT, t)));
      }
      total += sumLanes(acc, lanes);
    }
    for (; i < n; i++) {
      if (x[i] >= t) {
        total += FastMath.expNonPositive(x[i] - max);
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

  @Override
  public void expInto(float[] x, int n, float max, float[] out) {
    int i = 0;
    for (int bound = F.loopBound(n); i < bound; i += F.length()) {
      FloatVector d = FloatVector.fromArray(F, x, i).sub(max);
      // FastMath's 0 below the underflow limit (and for -inf), where exp() clamps: same bits.
      exp(d).blend(ZERO, d.compare(VectorOperators.LT, UNDERFLOW)).intoArray(out, i);
    }
    for (; i < n; i++) {
      out[i] = FastMath.expNonPositive(x[i] - max);
    }
  }

  /**
   * {@code e^x} lane-wise for {@code x ≤ 0}: {@link FastMath#expNonPositive}'s operations, so the
   * same bits, except that arguments below {@code -87} give {@code e^-87 ≈ 1.6e-38} instead of 0:
   * no sum over a vocabulary can tell, and a clamp is cheaper than a blend.
   */
  private static FloatVector exp(FloatVector x) {
    x = x.blend(UNDERFLOW, x.compare(VectorOperators.LT, UNDERFLOW)); // compare+blend: SIMD
    FloatVector t = x.mul(FastMath.LOG2E).add(FastMath.ROUNDER);
    FloatVector n = t.sub(FastMath.ROUNDER);
    FloatVector r = n.fma(MINUS_LN2_LO, n.fma(MINUS_LN2_HI, x));
    FloatVector p = C6.fma(r, C5);
    p = p.fma(r, C4);
    p = p.fma(r, C3);
    p = p.fma(r, C2);
    p = p.fma(r, C1);
    p = p.fma(r, C0);
    IntVector scale = t.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23);
    return p.reinterpretAsInts().add(scale).reinterpretAsFloats();
  }

  @Override
  public void widenBfloat16(short[] src, float[] dst, int from, int to) {
    int i = from;
    for (int bound = from + S.loopBound(to - from); i < bound; i += S.length()) {
      IntVector bits = (IntVector) ShortVector.fromArray(S, src, i - from)
          .convertShape(VectorOperators.S2I, I, 0);
      bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, i);
    }
    for (; i < to; i++) {
      dst[i] = HalfFloats.fromBfloat16(src[i - from]);
    }
  }

  @Override
  public void widenFloat16(short[] src, float[] dst, int from, int to) {
    int i = from;
    for (int bound = from + S.loopBound(to - from); i < bound; i += S.length()) {
      IntVector h = (IntVector) ShortVector.fromArray(S, src, i - from)
          .convertShape(VectorOperators.S2I, I, 0);
      IntVector magnitude = h.and(0x7fff);
      // Exponent and mantissa moved into float32's fields, rescaled by 2^(127-15): exact for
      // normals and subnormals alike. Infinities and NaNs take the all-ones exponent instead.
      FloatVector finite = magnitude.lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats()
          .mul(0x1p112f);
      FloatVector special = magnitude.lanewise(VectorOperators.LSHL, 13).or(0x7f800000)
          .reinterpretAsFloats();
      FloatVector abs = finite.blend(special,
          magnitude.compare(VectorOperators.GE, 0x7c00).cast(F));
      IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
      abs.reinterpretAsInts().or(sign).reinterpretAsFloats().intoArray(dst, i);
    }
    for (; i < to; i++) {
      dst[i] = HalfFloats.fromFloat16(src[i - from]);
    }
  }

  @Override
  public int nextAtLeast(float[] x, int from, int n, float floor) {
    int i = from;
    int step = F.length();
    // Four vectors per test: one any-lane check per 32 floats, where the check, not the compare,
    // is what costs on AVX2. Most calls skip far (top-k and top-n scans past the k-th best).
    for (int bound = n - 4 * step; i <= bound; i += 4 * step) {
      VectorMask<Float> hit = FloatVector.fromArray(F, x, i).compare(VectorOperators.GE, floor)
          .or(FloatVector.fromArray(F, x, i + step).compare(VectorOperators.GE, floor))
          .or(FloatVector.fromArray(F, x, i + 2 * step).compare(VectorOperators.GE, floor))
          .or(FloatVector.fromArray(F, x, i + 3 * step).compare(VectorOperators.GE, floor));
      if (hit.anyTrue()) {
        break; // the hit is in these four: found below
      }
    }
    for (int bound = F.loopBound(n - i) + i; i < bound; i += step) {
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

  // Candidates.weight(term) = rint(term · 2^40), in two 20-bit halves that int lanes hold, with no
  // float-to-int conversion (AVX2 has none to long, and three converts a vector bound the loop):
  // high = rint(term · 2^20) and low = rint((term · 2^20 - high) · 2^20), each the low bits of a
  // float add of 1.5 · 2^23, exact, and high · 2^20 + low is rint(term · 2^40) (ties to even
  // alike). A lane adds at most 128 halves of ≤ 2^20 a block of ScalarKernels.CHUNK, and 16 lanes
  // of 2^26 still fit an int reduction.
  private static final float HALF_SCALE = 0x1p20f;
  private static final float ROUND = 0x1.8p23f;
  private static final int ROUND_BITS = Float.floatToIntBits(ROUND);

  @Override
  public long weightSum(float[] terms, int n) {
    long sum = 0;
    int bound = F.loopBound(n);
    for (int i = 0; i < bound; i += ScalarKernels.CHUNK) {
      sum += weightOfVectors(terms, i, Math.min(bound, i + ScalarKernels.CHUNK));
    }
    for (int i = bound; i < n; i++) {
      sum += Candidates.weight(terms[i]);
    }
    return sum;
  }

  /** The weight of {@code terms[from, to)}: whole vectors, at most ScalarKernels.CHUNK terms. */
  private static long weightOfVectors(float[] terms, int from, int to) {
    IntVector high = IntVector.zero(I);
    IntVector low = IntVector.zero(I);
    for (int i = from; i < to; i += F.length()) {
      FloatVector scaled = FloatVector.fromArray(F, terms, i).mul(HALF_SCALE);
      FloatVector h = scaled.add(ROUND);
      FloatVector l = scaled.sub(h.sub(ROUND)).mul(HALF_SCALE).add(ROUND);
      high = high.add(h.reinterpretAsInts().sub(ROUND_BITS));
      low = low.add(l.reinterpretAsInts().sub(ROUND_BITS));
    }
    return ((long) high.reduceLanes(VectorOperators.ADD) << 20) + low.reduceLanes(VectorOperators.ADD);
  }

  @Override
  public long weightSumAtLeast(float[] x, float[] terms, int n, float t) {
    long sum = 0;
    int i = 0;
    int bound = F.loopBound(n);
    while (i < bound) {
      int end = Math.min(bound, i + ScalarKernels.CHUNK);
      IntVector high = IntVector.zero(I);
      IntVector low = IntVector.zero(I);
      for (; i < end; i += F.length()) {
        FloatVector scaled = FloatVector.fromArray(F, terms, i).mul(HALF_SCALE)
            .blend(ZERO, FloatVector.fromArray(F, x, i).compare(VectorOperators.LT, t));
        FloatVector h = scaled.add(ROUND);
        FloatVector l = scaled.sub(h.sub(ROUND)).mul(HALF_SCALE).add(ROUND);
        high = high.add(h.reinterpretAsInts().sub(ROUND_BITS));
        low = low.add(l.reinterpretAsInts().sub(ROUND_BITS));
      }
      sum += ((long) high.reduceLanes(VectorOperators.ADD) << 20) + low.reduceLanes(VectorOperators.ADD);
    }
    for (; i < n; i++) {
      if (x[i] >= t) {
        sum += Candidates.weight(terms[i]);
      }
    }
    return sum;
  }

  // The walk skips whole blocks of this many vectors while their weight leaves the sum at most
  // the target; the block that crosses it is walked token by token.
  private static final int WALK_VECTORS = 4;

  @Override
  public int weightIndexAbove(float[] terms, int n, long target) {
    long sum = 0;
    int i = 0;
    int block = WALK_VECTORS * F.length();
    for (int bound = n - block; i <= bound; i += block) {
      long blockSum = weightOfVectors(terms, i, i + block);
      if (sum + blockSum > target) {
        break; // the crossing is in this block: walked below
      }
      sum += blockSum;
    }
    for (; i < n; i++) {
      sum += Candidates.weight(terms[i]);
      if (sum > target) {
        return i;
      }
    }
    return n;
  }

  @Override
  public String name() {
    return "vector-" + F.vectorBitSize();
  }
}
