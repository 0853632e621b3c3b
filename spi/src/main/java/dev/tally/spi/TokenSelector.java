package dev.tally.spi;

/**
 * The last stage of a chain: chooses the token.
 *
 * <p>A selector may first narrow the candidates (as Mirostat truncates before drawing); the
 * processed log-probability reported for the chosen token is its log-probability in the softmax
 * over the candidates left when {@link #select} returns. A selector that does not draw (greedy)
 * says so with {@link #isDeterministic()}, and its tokens are reported with a processed
 * log-probability of 0.
 *
 * <p>Same threading, allocation, failure and deadline rules as {@link LogitsProcessor}. A selector
 * with per-sequence state (Mirostat's μ) implements {@link StatefulSelector}.
 */
public interface TokenSelector {
  /**
   * Chooses a token.
   *
   * @return the chosen token id; it must be a surviving candidate
   */
  int select(Candidates candidates, SamplingContext context);

  /** Whether the choice is certain (probability 1), as for greedy decoding. */
  default boolean isDeterministic() {
    return false;
  }
}
