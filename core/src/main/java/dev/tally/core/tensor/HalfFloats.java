package dev.tally.core.tensor;

/**
 * Exact conversions of 16-bit floats to float32. Both formats are subsets of float32, so every bit
 * pattern (subnormals, infinities, NaN payloads) converts without rounding.
 */
public final class HalfFloats {
  private HalfFloats() {}

  /** IEEE 754 binary16 to float32. (JDK 20+ has {@code Float.float16ToFloat}; we target 17.) */
  public static float fromFloat16(short half) {
    int h = half & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exponent = (h >>> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    if (exponent == 0x1f) { // infinity or NaN: keep the payload in the top mantissa bits
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      if (mantissa == 0) {
        return Float.intBitsToFloat(sign);
      }
      // Subnormal: mantissa * 2^-24 is exact in float32.
      float magnitude = mantissa * 0x1p-24f;
      return sign == 0 ? magnitude : -magnitude;
    }
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }

  /** bfloat16 is the top half of a float32. */
  public static float fromBfloat16(short bf16) {
    return Float.intBitsToFloat((bf16 & 0xffff) << 16);
  }
}
