package dev.tally.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

final class HalfFloatsTest {
  /**
   * IEEE 754 binary16, decoded from its fields with Math.scalb: 1 sign bit, 5 exponent bits (bias
   * 15), 10 mantissa bits. Independent of the shift-and-rebias code under test.
   */
  private static float float16Reference(int h) {
    int sign = (h >>> 15) & 1;
    int exponent = (h >>> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    float magnitude;
    if (exponent == 0x1f) {
      magnitude = mantissa == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
    } else if (exponent == 0) {
      magnitude = Math.scalb((float) mantissa, -24); // 2^(1-15) * (m / 2^10)
    } else {
      magnitude = Math.scalb((float) (1024 + mantissa), exponent - 25); // 2^(e-15) * (1 + m/2^10)
    }
    return sign == 1 ? -magnitude : magnitude;
  }

  /** bfloat16: 1 sign bit, 8 exponent bits (bias 127), 7 mantissa bits. */
  private static float bfloat16Reference(int h) {
    int sign = (h >>> 15) & 1;
    int exponent = (h >>> 7) & 0xff;
    int mantissa = h & 0x7f;
    float magnitude;
    if (exponent == 0xff) {
      magnitude = mantissa == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
    } else if (exponent == 0) {
      magnitude = Math.scalb((float) mantissa, -133); // 2^(1-127) * (m / 2^7)
    } else {
      magnitude = Math.scalb((float) (128 + mantissa), exponent - 134); // 2^(e-127) * (1 + m/2^7)
    }
    return sign == 1 ? -magnitude : magnitude;
  }

  @Test
  void float16EveryBitPattern() {
    int nans = 0;
    for (int h = 0; h < 0x10000; h++) {
      float got = HalfFloats.fromFloat16((short) h);
      float want = float16Reference(h);
      int gotBits = Float.floatToRawIntBits(got);
      if (Float.isNaN(want)) {
        nans++;
        assertThat(Float.isNaN(got)).as("0x%04x is NaN", h).isTrue();
        // The 10-bit payload must land in the top mantissa bits, and the sign must survive.
        assertThat((gotBits >>> 13) & 0x3ff).as("payload of 0x%04x", h).isEqualTo(h & 0x3ff);
        assertThat(gotBits >>> 31).as("sign of 0x%04x", h).isEqualTo(h >>> 15);
      } else {
        // Bit equality: distinguishes -0.0 from 0.0 and checks every exact value.
        assertThat(gotBits).as("0x%04x -> %s, expected %s", h, got, want)
            .isEqualTo(Float.floatToRawIntBits(want));
      }
    }
    assertThat(nans).isEqualTo(2 * 1023);
  }

  @Test
  void float16Landmarks() {
    assertThat(HalfFloats.fromFloat16((short) 0x3c00)).isEqualTo(1.0f);
    assertThat(HalfFloats.fromFloat16((short) 0xc000)).isEqualTo(-2.0f);
    assertThat(HalfFloats.fromFloat16((short) 0x7bff)).isEqualTo(65504f);
    assertThat(HalfFloats.fromFloat16((short) 0x0001)).isEqualTo(0x1p-24f);
    assertThat(HalfFloats.fromFloat16((short) 0x03ff)).isEqualTo(1023 * 0x1p-24f);
    assertThat(HalfFloats.fromFloat16((short) 0x0400)).isEqualTo(0x1p-14f);
    assertThat(HalfFloats.fromFloat16((short) 0x7c00)).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(HalfFloats.fromFloat16((short) 0xfc00)).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(Float.floatToRawIntBits(HalfFloats.fromFloat16((short) 0x8000))).isEqualTo(0x80000000);
  }

  @Test
  void bfloat16EveryBitPattern() {
    for (int h = 0; h < 0x10000; h++) {
      float got = HalfFloats.fromBfloat16((short) h);
      float want = bfloat16Reference(h);
      int gotBits = Float.floatToRawIntBits(got);
      if (Float.isNaN(want)) {
        assertThat(Float.isNaN(got)).as("0x%04x is NaN", h).isTrue();
        assertThat(gotBits).as("NaN 0x%04x keeps all its bits", h).isEqualTo(h << 16);
      } else {
        assertThat(gotBits).as("0x%04x -> %s, expected %s", h, got, want)
            .isEqualTo(Float.floatToRawIntBits(want));
      }
    }
  }
}
