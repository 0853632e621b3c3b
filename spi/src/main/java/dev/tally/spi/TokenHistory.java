package dev.tally.spi;

/**
 * The tokens of one sequence: its prompt, then its output so far, as one indexable run.
 *
 * <p>Index {@code i} in {@code [0, promptLength())} is a prompt token; {@code [promptLength(),
 * length())} are output tokens, oldest first.
 */
public interface TokenHistory {
  /** Number of prompt tokens. */
  int promptLength();

  /** Number of prompt plus output tokens. */
  int length();

  /** Number of output tokens (generated, or appended by the model server). */
  default int outputLength() {
    return length() - promptLength();
  }

  /** The token at {@code index}, in {@code [0, length())}. */
  int token(int index);
}
