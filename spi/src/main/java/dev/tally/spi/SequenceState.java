package dev.tally.spi;

/**
 * The per-sequence state of a {@link StatefulProcessor} or {@link StatefulSelector}: what a stage
 * must remember between the steps of one sequence and cannot cheaply recompute from its {@link
 * TokenHistory} (Mirostat's μ, a grammar parser's stack, an incremental count).
 *
 * <p>Lifecycle, as the engine drives it:
 *
 * <ol>
 *   <li>the stage's {@code newState(history)} builds the state for a sequence whose tokens so far
 *       are {@code history} (prompt and output);
 *   <li>before each later call of {@code apply}/{@code select}, the engine calls {@link #accept}
 *       once for every token appended to the sequence since, oldest first: the tokens Tally chose
 *       and the tokens the model server appended itself (forced, prefilled, speculative);
 *   <li>{@code apply}/{@code select} read the state; they may note scratch values in it (a
 *       selector notes what it drew, to learn from it in {@code accept}), but the state
 *       <em>advances</em> only in {@code accept}: the engine may run a stage twice for one step
 *       (explain mode) and only accepts the token that was kept;
 *   <li>the state is dropped with the sequence, or copied and restored around speculative tokens.
 * </ol>
 *
 * <p>In a {@code Session} the state lives as long as the sequence. The stateless {@code Sample}
 * RPC has no sequence to keep it in: there each call builds a fresh state from the row's history,
 * so a stage whose state is a pure function of the history gives the same tokens in both RPCs, and
 * one that learns from its own draws (Mirostat) starts from its initial state on every {@code
 * Sample} call.
 *
 * <p>Calls for one sequence never overlap, but successive calls may come from different threads
 * (the engine publishes the state safely between them); no synchronisation is needed. If any call
 * into a state throws, the engine fails the row, discards the state and rebuilds it with {@code
 * newState} at the sequence's next step.
 */
public interface SequenceState {
  /**
   * A token was appended to the sequence: chosen by this chain, or placed by the model server.
   * Called in order, once per token, before the next {@code apply} or {@code select}.
   */
  void accept(int tokenId);

  /**
   * Forgets every token accepted since the state was built: back to what {@code newState}
   * returned. The engine replays the tokens it still has in the history through {@link #accept}.
   */
  void reset();

  /**
   * An independent copy: changes to either never show in the other. Used to checkpoint a sequence
   * before speculative tokens and to roll back to it. Must be cheap for what it holds.
   */
  SequenceState copy();
}
