package dev.tally.spi;

/**
 * A fast {@code exp} for the softmax-shaped loops of sampling: {@code exp(x)} for {@code x ≤ 0},
 * as in {@code exp(logit - max)}.
 *
 * <p>Cody and Waite's reduction with fused multiply-adds: {@code x = n·ln2 + r}, {@code n} the
 * nearest integer to {@code x·log2(e)}, {@code |r| ≤ ln2/2} computed with a two-part ln2 so that it
 * is exact to a rounding; {@code e^r} by a degree-6 minimax polynomial in Horner form; {@code 2^n}
 * added straight into the exponent bits. Relative error below 1.5e-7 (about one float32 rounding)
 * over the whole range; results below {@code e^-87} flush to 0, which no float32 softmax can tell
 * from 0. No table and no branch in the common path, so the JIT keeps loops tight; the vectorised
 * kernels run the same operations lane-wise and get the same bits.
 */
public final class FastMath {
  /** {@code log2(e)}, as a float. */
  public static final float LOG2E = 1.44269504088896341f;
  /** The high part of ln2: few mantissa bits, so {@code n·LN2_HI} is exact. */
  public static final float LN2_HI = 0.693359375f;
  /** {@code ln2 - LN2_HI}. */
  public static final float LN2_LO = -2.12194440e-4f;
  /** 1.5 · 2^23: adding it rounds a float in (-2^22, 2^22) to an integer in the low mantissa bits. */
  public static final float ROUNDER = 12582912f;
  /** Below this, {@code e^x} (about 1.6e-38) is taken as 0. */
  public static final float UNDERFLOW = -87f;
  /** The polynomial for {@code e^r}, {@code |r| ≤ ln2/2}, constant term first. */
  public static final float C0 = 1.0f;
  public static final float C1 = 1.0f;
  public static final float C2 = 4.9999994040e-01f;
  public static final float C3 = 1.6666442156e-01f;
  public static final float C4 = 4.1668232530e-02f;
  public static final float C5 = 8.3730760962e-03f;
  public static final float C6 = 1.3830440585e-03f;

  private FastMath() {}

  /** {@code e^x} for {@code x ≤ 0}; larger arguments are not supported (clamped to 1). */
  public static float expNonPositive(float x) {
    if (x < UNDERFLOW) {
      return 0f;
    }
    x = Math.min(x, 0f);
    float t = x * LOG2E + ROUNDER; // n in the low mantissa bits of t
    float n = t - ROUNDER;
    float r = Math.fma(n, -LN2_LO, Math.fma(n, -LN2_HI, x));
    float p = Math.fma(C6, r, C5);
    p = Math.fma(p, r, C4);
    p = Math.fma(p, r, C3);
    p = Math.fma(p, r, C2);
    p = Math.fma(p, r, C1);
    p = Math.fma(p, r, C0);
    // t's bits are 0x4B400000 + n; shifted left by 23 only n << 23 is left, the exponent of 2^n.
    // x ≥ -87 gives n ≥ -126, and n = -126 only with r > 0.33, p > 1.4: the sum is a normal float.
    return Float.intBitsToFloat(Float.floatToRawIntBits(p) + (Float.floatToRawIntBits(t) << 23));
  }
}
