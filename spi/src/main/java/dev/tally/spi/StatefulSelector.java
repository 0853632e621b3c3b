package dev.tally.spi;

/**
 * A {@link TokenSelector} that keeps per-sequence {@link SequenceState state}, such as Mirostat's
 * target surprise μ. Same contract as {@link StatefulProcessor}: the selector instance is shared
 * and immutable; the state is built by {@link #newState}, advanced by {@link
 * SequenceState#accept} and handed to {@link #select(Candidates, SamplingContext, SequenceState)}.
 *
 * <p>A selector that learns from its own draw notes what it drew in the state during {@code
 * select} and applies it when the engine {@link SequenceState#accept accepts} that token: the
 * engine may run {@code select} twice for one step (explain mode), and a token the model server
 * forced instead is accepted without having been drawn.
 *
 * @param <S> the state type
 */
public interface StatefulSelector<S extends SequenceState> extends TokenSelector {
  /** The state for a sequence whose tokens so far are {@code history}; see {@link StatefulProcessor#newState}. */
  S newState(TokenHistory history);

  /**
   * Chooses a token with the sequence's state, which has accepted every token of {@code
   * context.history()}.
   *
   * @return the chosen token id; it must be a surviving candidate
   */
  int select(Candidates candidates, SamplingContext context, S state);

  /** Chooses with a state built from the row's history: the stateless path. */
  @Override
  default int select(Candidates candidates, SamplingContext context) {
    return select(candidates, context, newState(context.history()));
  }
}
