package dev.tally.core.tensor;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.kernel.Kernels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * A [rows × vocabSize] tensor of logits over little-endian bytes, decoded a row at a time.
 *
 * <p>The bytes are not copied: the tensor reads the buffer it was given. Rows may be decoded from
 * several threads at once.
 */
public final class LogitsTensor {
  private final DType dtype;
  private final int rows;
  private final int vocabSize;
  private final ByteBuffer data;
  // Views made once: their absolute bulk gets keep no position, so threads may share them.
  private final FloatBuffer floats;
  private final ShortBuffer shorts;

  private LogitsTensor(DType dtype, int rows, int vocabSize, ByteBuffer data) {
    this.dtype = dtype;
    this.rows = rows;
    this.vocabSize = vocabSize;
    this.data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    this.floats = dtype == DType.FLOAT32 ? this.data.asFloatBuffer() : null;
    this.shorts = dtype == DType.FLOAT32 ? null : this.data.asShortBuffer();
  }

  /**
   * Checks the shape against the bytes and wraps them.
   *
   * @param rows unsigned 32-bit on the wire, hence a long here
   * @param vocabSize unsigned 32-bit on the wire, hence a long here
   * @throws TallyException {@link ErrorCode#INVALID_TENSOR} naming the field at fault
   */
  public static LogitsTensor of(DType dtype, long rows, long vocabSize, ByteBuffer data) {
    checkShape(dtype, rows, vocabSize);
    // rows * vocabSize < 2^31 and the element size is at most 4: no overflow.
    long expected = rows * vocabSize * dtype.bytes();
    if (data.remaining() != expected) {
      throw new TallyException(ErrorCode.INVALID_TENSOR, "logits.data",
          "logits.data has " + data.remaining() + " bytes; [" + rows + " x " + vocabSize + "] "
              + dtype + " needs " + expected);
    }
    return new LogitsTensor(dtype, (int) rows, (int) vocabSize, data);
  }

  /**
   * Checks a dtype and shape before any bytes are looked at.
   *
   * @throws TallyException {@link ErrorCode#INVALID_TENSOR} naming the field at fault
   */
  public static void checkShape(DType dtype, long rows, long vocabSize) {
    if (dtype == null) {
      throw new TallyException(ErrorCode.INVALID_TENSOR, "logits.dtype",
          "logits.dtype must be DTYPE_FLOAT32, DTYPE_FLOAT16 or DTYPE_BFLOAT16");
    }
    if (vocabSize <= 0) {
      throw new TallyException(ErrorCode.INVALID_TENSOR, "logits.vocab_size",
          "logits.vocab_size must be positive");
    }
    // Rows and elements are indexed with ints (and a ByteBuffer holds at most 2^31 - 1 bytes), so
    // the element count must fit an int. Checking each factor alone is not enough: two factors
    // just below 2^31 times 4 bytes even overflow a long.
    if (rows < 0 || vocabSize > Integer.MAX_VALUE || rows > Integer.MAX_VALUE
        || rows * vocabSize > Integer.MAX_VALUE) {
      throw new TallyException(ErrorCode.INVALID_TENSOR, "logits",
          "logits shape [" + rows + " x " + vocabSize + "] is too large");
    }
  }

  /** Wraps float32 values (copied), for tests and in-process callers. */
  public static LogitsTensor ofFloats(int rows, int vocabSize, float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return of(DType.FLOAT32, rows, vocabSize, b);
  }

  public DType dtype() {
    return dtype;
  }

  public int rows() {
    return rows;
  }

  public int vocabSize() {
    return vocabSize;
  }

  /**
   * Decodes row {@code row} into {@code dst[0, vocabSize)} as float32, 16-bit rows through {@code
   * scratch} (at least {@code vocabSize} long): one bulk copy out of the buffer, then the kernels'
   * widening loop, instead of a buffer read per element.
   */
  public void decodeRow(int row, float[] dst, short[] scratch, Kernels kernels) {
    decodeRange(row, 0, vocabSize, dst, scratch, kernels);
  }

  /**
   * Decodes the tokens {@code [from, to)} of row {@code row} into {@code dst[from, to)}, 16-bit
   * rows through {@code scratch[0, to - from)}: a slice of {@link #decodeRow}, for passes that
   * work on a row a cache-sized chunk at a time.
   */
  public void decodeRange(int row, int from, int to, float[] dst, short[] scratch,
      Kernels kernels) {
    int at = row * vocabSize + from;
    switch (dtype) {
      case FLOAT32:
        floats.get(at, dst, from, to - from);
        break;
      case FLOAT16:
        shorts.get(at, scratch, 0, to - from);
        kernels.widenFloat16(scratch, dst, from, to);
        break;
      case BFLOAT16:
        shorts.get(at, scratch, 0, to - from);
        kernels.widenBfloat16(scratch, dst, from, to);
        break;
      default:
        throw new AssertionError(dtype);
    }
  }

  /** Decodes row {@code row} into {@code dst[0, vocabSize)} as float32. */
  public void decodeRow(int row, float[] dst) {
    int n = vocabSize;
    int base = row * n * dtype.bytes();
    switch (dtype) {
      case FLOAT32:
        floats.get(row * n, dst, 0, n);
        break;
      case FLOAT16:
        for (int i = 0; i < n; i++) {
          dst[i] = HalfFloats.fromFloat16(data.getShort(base + 2 * i));
        }
        break;
      case BFLOAT16:
        for (int i = 0; i < n; i++) {
          dst[i] = HalfFloats.fromBfloat16(data.getShort(base + 2 * i));
        }
        break;
      default:
        throw new AssertionError(dtype);
    }
  }

  /** The logit at ({@code row}, {@code tokenId}) as float32. */
  public float get(int row, int tokenId) {
    int index = row * vocabSize + tokenId;
    switch (dtype) {
      case FLOAT32:
        return data.getFloat(index * 4);
      case FLOAT16:
        return HalfFloats.fromFloat16(data.getShort(index * 2));
      case BFLOAT16:
        return HalfFloats.fromBfloat16(data.getShort(index * 2));
      default:
        throw new AssertionError(dtype);
    }
  }
}
