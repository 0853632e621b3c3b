package dev.tally.spi;

/**
 * A {@link LogitsProcessor} that keeps per-sequence {@link SequenceState state}: the engine builds
 * one state per sequence with {@link #newState}, feeds it the sequence's tokens through {@link
 * SequenceState#accept}, and passes it to {@link #apply(Candidates, SamplingContext,
 * SequenceState)}.
 *
 * <p>The processor instance itself stays shared and immutable, as for any processor: everything
 * that changes from step to step belongs in the state. Where no sequence exists (the stateless
 * {@code Sample} RPC), the plain {@link #apply(Candidates, SamplingContext)} builds a fresh state
 * from the row's history on every call; that is also what a caller unaware of states gets.
 *
 * @param <S> the state type
 */
public interface StatefulProcessor<S extends SequenceState> extends LogitsProcessor {
  /**
   * The state for a sequence whose tokens so far are {@code history} (prompt, then output). Runs on
   * a sampler thread, before the sequence's first {@code apply}; may read the whole history.
   */
  S newState(TokenHistory history);

  /**
   * Applies the stage with the sequence's state, which has accepted every token of {@code
   * context.history()}.
   */
  void apply(Candidates candidates, SamplingContext context, S state);

  /** Applies the stage with a state built from the row's history: the stateless path. */
  @Override
  default void apply(Candidates candidates, SamplingContext context) {
    apply(candidates, context, newState(context.history()));
  }
}
