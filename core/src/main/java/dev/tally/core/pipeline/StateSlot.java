package dev.tally.core.pipeline;

import dev.tally.spi.SequenceState;
import dev.tally.spi.TokenHistory;
import java.util.function.Function;

/**
 * Where one stateful stage keeps its {@link SequenceState} for one sequence, and how far into the
 * sequence's history that state has got.
 *
 * <p>The history is the truth; the state follows it lazily. Before each call into the stage the
 * engine asks {@link #stateFor} for the state, which builds it with {@code newState} on first use
 * and otherwise {@link SequenceState#accept accepts} every token appended since the last call: the
 * token Tally chose last step and any the model server appended. All of this runs on the sampler
 * thread, inside the row's deadline and failure isolation, never on the session's thread.
 *
 * <p>Any exception from the state or the stage discards the state ({@link #discard}); the next
 * step rebuilds it from the history. Confined to one row at a time: a sequence has at most one row
 * per step, and steps of a session run one after another.
 */
final class StateSlot {
  private final Function<TokenHistory, SequenceState> factory;
  private SequenceState state;
  private int seen;
  private int built;

  StateSlot(Function<TokenHistory, SequenceState> factory) {
    this.factory = factory;
  }

  /** The state, brought up to date with {@code history}. */
  SequenceState stateFor(TokenHistory history) {
    int length = history.length();
    if (state == null || length < seen) { // first use, discarded, or the history was cut back
      SequenceState fresh = factory.apply(history);
      if (fresh == null) {
        throw new IllegalStateException("newState returned null");
      }
      state = fresh;
      seen = length;
      built = length;
      return state;
    }
    boolean caughtUp = false;
    try {
      while (seen < length) {
        state.accept(history.token(seen));
        seen++;
      }
      caughtUp = true;
    } finally {
      if (!caughtUp) {
        state = null;
      }
    }
    return state;
  }

  /** Drops the state; the next {@link #stateFor} rebuilds it from the history. */
  void discard() {
    state = null;
  }

  /** The state as it stands, or {@code null} when none was built yet. */
  SequenceState peek() {
    return state;
  }

  /** History length the state has accepted. */
  int seen() {
    return seen;
  }

  /** A copy of the state and its position, or {@code null} parts when there is no state yet. */
  Saved save() {
    return new Saved(state == null ? null : state.copy(), seen, built);
  }

  /**
   * Takes a copy of {@code other}'s state and position. When the copy throws, this slot stays
   * empty and the state is rebuilt from the history at its next use.
   */
  void copyFrom(StateSlot other) {
    try {
      state = other.state == null ? null : other.state.copy();
      seen = other.seen;
      built = other.built;
    } catch (RuntimeException e) {
      state = null;
    }
  }

  /** Puts a saved state back (a copy of it, so the same save can be restored again). */
  void restore(Saved saved) {
    state = saved.state == null ? null : saved.state.copy();
    seen = saved.seen;
    built = saved.built;
  }

  /**
   * {@link SequenceState#reset Resets} the state to what {@code newState} gave; the tokens accepted
   * since are replayed from the history at the next step.
   */
  void reset() {
    if (state != null) {
      boolean done = false;
      try {
        state.reset();
        seen = built;
        done = true;
      } finally {
        if (!done) {
          state = null;
        }
      }
    }
  }

  /** One slot's saved state. */
  static final class Saved {
    final SequenceState state;
    final int seen;
    final int built;

    Saved(SequenceState state, int seen, int built) {
      this.state = state;
      this.seen = seen;
      this.built = built;
    }
  }
}
