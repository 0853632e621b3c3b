package dev.tally.core.processor;

/**
 * Keeps the built-in biases and penalties from overflowing float32. An extreme but finite
 * parameter can push a finite logit to ±inf (1e31 / 1e-45, or 3e38 + 3e38), and a +inf logit has
 * no softmax (inf - inf = NaN). Saturating at ±{@code Float.MAX_VALUE} keeps the intent: the token
 * is at least tied with the most (or least) likely.
 */
final class FloatRange {
  private FloatRange() {}

  /**
   * {@code result}, computed from a finite {@code logit} and {@code operand}, at ±{@code
   * Float.MAX_VALUE} when it overflowed; otherwise unchanged (a -inf bias still bans).
   */
  static float saturate(float logit, float operand, float result) {
    return Float.isInfinite(result) && Float.isFinite(logit) && Float.isFinite(operand)
        ? Math.copySign(Float.MAX_VALUE, result) : result;
  }
}
