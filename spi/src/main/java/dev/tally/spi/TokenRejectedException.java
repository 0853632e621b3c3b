package dev.tally.spi;

/**
 * Thrown by a {@link SequenceState#accept} (or a stage's {@code newState}) when a token the
 * sequence received breaks the stage's rule — a token the model server appended that a grammar
 * does not allow. It is the request's mistake, not the stage's: the engine fails the row with
 * {@code INVALID_PARAMS} and this message, where any other exception is {@code PROCESSOR_FAILED}.
 */
public class TokenRejectedException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public TokenRejectedException(String message) {
    super(message);
  }
}
