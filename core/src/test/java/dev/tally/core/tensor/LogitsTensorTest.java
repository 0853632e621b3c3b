package dev.tally.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

final class LogitsTensorTest {
  private static ByteBuffer bytes(int... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length);
    for (int v : values) {
      b.put((byte) v);
    }
    return b.flip();
  }

  private static void assertInvalid(Runnable r, String field) {
    assertThatThrownBy(r::run).isInstanceOfSatisfying(TallyException.class, e -> {
      assertThat(e.code()).isEqualTo(ErrorCode.INVALID_TENSOR);
      assertThat(e.field()).isEqualTo(field);
    });
  }

  @Test
  void nullDtype() {
    assertInvalid(() -> LogitsTensor.of(null, 1, 1, ByteBuffer.allocate(4)), "logits.dtype");
  }

  @Test
  void zeroOrNegativeVocabulary() {
    assertInvalid(() -> LogitsTensor.of(DType.FLOAT32, 1, 0, ByteBuffer.allocate(0)),
        "logits.vocab_size");
    assertInvalid(() -> LogitsTensor.of(DType.FLOAT32, 0, 0, ByteBuffer.allocate(0)),
        "logits.vocab_size");
    assertInvalid(() -> LogitsTensor.of(DType.FLOAT32, 1, -4, ByteBuffer.allocate(0)),
        "logits.vocab_size");
  }

  @ParameterizedTest
  @EnumSource(DType.class)
  void byteLengthOffByOne(DType dtype) {
    int exact = 3 * 5 * dtype.bytes();
    assertThat(LogitsTensor.of(dtype, 3, 5, ByteBuffer.allocate(exact)).rows()).isEqualTo(3);
    assertInvalid(() -> LogitsTensor.of(dtype, 3, 5, ByteBuffer.allocate(exact - 1)), "logits.data");
    assertInvalid(() -> LogitsTensor.of(dtype, 3, 5, ByteBuffer.allocate(exact + 1)), "logits.data");
  }

  @Test
  void elementCountBeyondIntIsRefused() {
    // Each factor fits an int, the product does not: the tensor could never be indexed.
    assertInvalid(() -> LogitsTensor.of(DType.BFLOAT16, 65_536, 65_536, ByteBuffer.allocate(0)),
        "logits");
    assertInvalid(() -> LogitsTensor.of(DType.FLOAT32, Integer.MAX_VALUE, Integer.MAX_VALUE,
        ByteBuffer.allocate(0)), "logits");
    assertInvalid(() -> LogitsTensor.of(DType.FLOAT32, 1, 1L << 32, ByteBuffer.allocate(0)),
        "logits");
    assertInvalid(() -> LogitsTensor.of(DType.FLOAT32, 1L << 32, 1, ByteBuffer.allocate(0)),
        "logits");
    assertInvalid(() -> LogitsTensor.of(DType.FLOAT32, -1, 1, ByteBuffer.allocate(0)), "logits");
  }

  @Test
  void noRowsIsAnEmptyTensor() {
    LogitsTensor t = LogitsTensor.of(DType.FLOAT16, 0, 128_256, ByteBuffer.allocate(0));
    assertThat(t.rows()).isZero();
    assertThat(t.vocabSize()).isEqualTo(128_256);
  }

  @Test
  void decodesFloat32LittleEndian() {
    // Row 0: 1.0, -2.5; row 1: +inf, 0x1p-149 (the smallest subnormal).
    ByteBuffer data = bytes(
        0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0,
        0x00, 0x00, 0x80, 0x7f, 0x01, 0x00, 0x00, 0x00);
    data.order(ByteOrder.BIG_ENDIAN); // the caller's order must not matter
    LogitsTensor t = LogitsTensor.of(DType.FLOAT32, 2, 2, data);
    float[] row = new float[2];
    t.decodeRow(1, row);
    assertThat(row).containsExactly(Float.POSITIVE_INFINITY, Float.MIN_VALUE);
    t.decodeRow(0, row);
    assertThat(row).containsExactly(1.0f, -2.5f);
    assertThat(t.get(0, 1)).isEqualTo(-2.5f);
    assertThat(t.get(1, 1)).isEqualTo(Float.MIN_VALUE);
  }

  @Test
  void decodesFloat16LittleEndian() {
    // 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, 0.5 = 0x3800, -inf = 0xfc00, 2^-24 = 0x0001.
    ByteBuffer data = bytes(0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x00, 0x38, 0x00, 0xfc, 0x01, 0x00);
    LogitsTensor t = LogitsTensor.of(DType.FLOAT16, 2, 3, data);
    float[] row = new float[3];
    t.decodeRow(0, row);
    assertThat(row).containsExactly(1.0f, -2.0f, 65504f);
    t.decodeRow(1, row);
    assertThat(row).containsExactly(0.5f, Float.NEGATIVE_INFINITY, 0x1p-24f);
    assertThat(t.get(1, 0)).isEqualTo(0.5f);
  }

  @Test
  void decodesBfloat16LittleEndian() {
    // 1.0 = 0x3f80, -2.0 = 0xc000, 3.0 = 0x4040, 1e-38-ish subnormal 0x0001 = 2^-133.
    ByteBuffer data = bytes(0x80, 0x3f, 0x00, 0xc0, 0x40, 0x40, 0x01, 0x00);
    LogitsTensor t = LogitsTensor.of(DType.BFLOAT16, 2, 2, data);
    float[] row = new float[2];
    t.decodeRow(0, row);
    assertThat(row).containsExactly(1.0f, -2.0f);
    t.decodeRow(1, row);
    assertThat(row).containsExactly(3.0f, 0x1p-133f);
    assertThat(t.get(1, 1)).isEqualTo(0x1p-133f);
  }

  @Test
  void readsFromTheBufferPositionWithoutCopying() {
    ByteBuffer b = ByteBuffer.allocate(3 + 8).order(ByteOrder.LITTLE_ENDIAN);
    b.position(3);
    b.putFloat(3, 7f).putFloat(7, -7f);
    LogitsTensor t = LogitsTensor.of(DType.FLOAT32, 1, 2, b);
    float[] row = new float[2];
    t.decodeRow(0, row);
    assertThat(row).containsExactly(7f, -7f);
    assertThat(b.position()).isEqualTo(3);
  }

  @Test
  void ofFloatsRoundTrips() {
    LogitsTensor t = LogitsTensor.ofFloats(2, 2, 1f, 2f, 3f, 4f);
    assertThat(t.dtype()).isEqualTo(DType.FLOAT32);
    float[] row = new float[2];
    t.decodeRow(1, row);
    assertThat(row).containsExactly(3f, 4f);
    assertInvalid(() -> LogitsTensor.ofFloats(2, 2, 1f, 2f, 3f), "logits.data");
  }

  /**
   * The bulk 16-bit path, on the scalar and the vector kernels, gives exactly the bits of the
   * element-wise path, every row (random bytes: NaN payloads, infinities and subnormals included).
   */
  @org.junit.jupiter.api.Test
  void bulkDecodeMatchesElementWiseDecode() {
    java.util.Random r = new java.util.Random(5);
    for (DType dtype : DType.values()) {
      int rows = 3;
      int vocab = 1001;
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(rows * vocab * dtype.bytes());
      r.nextBytes(b.array());
      LogitsTensor t = LogitsTensor.of(dtype, rows, vocab, b);
      float[] a = new float[vocab];
      float[] c = new float[vocab];
      short[] scratch = new short[vocab];
      for (dev.tally.core.kernel.Kernels kernels : java.util.List.of(
          dev.tally.core.kernel.Kernels.scalar(), dev.tally.core.kernel.Kernels.vector())) {
        for (int row = 0; row < rows; row++) {
          t.decodeRow(row, a);
          t.decodeRow(row, c, scratch, kernels);
          float[] ranges = new float[vocab]; // in uneven slices, as a chunked pass decodes
          for (int from = 0; from < vocab; from += 37 + from % 100) {
            t.decodeRange(row, from, Math.min(vocab, from + 37 + from % 100), ranges, scratch,
                kernels);
          }
          for (int i = 0; i < vocab; i++) {
            org.assertj.core.api.Assertions.assertThat(Float.floatToRawIntBits(c[i]))
                .as("%s %s row %d token %d", kernels.name(), dtype, row, i)
                .isEqualTo(Float.floatToRawIntBits(a[i]));
            org.assertj.core.api.Assertions.assertThat(Float.floatToRawIntBits(ranges[i]))
                .as("range: %s %s row %d token %d", kernels.name(), dtype, row, i)
                .isEqualTo(Float.floatToRawIntBits(a[i]));
          }
        }
      }
    }
  }
}
