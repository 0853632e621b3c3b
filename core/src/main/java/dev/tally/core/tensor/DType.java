package dev.tally.core.tensor;

/** Element types of a logits tensor, all little-endian. */
public enum DType {
  FLOAT32(4),
  FLOAT16(2),
  BFLOAT16(2);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }
}
