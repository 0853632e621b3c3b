package dev.tally.structured;

import dev.tally.spi.Candidates;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SequenceState;
import dev.tally.spi.StatefulProcessor;
import dev.tally.spi.TokenHistory;
import dev.tally.spi.TokenRejectedException;
import dev.tally.structured.automaton.TokenDfa;

/**
 * The processor of a regex or choice constraint: it keeps only the tokens the constraint allows
 * after the sequence's output so far, EOS only where the output is a whole match. The state is one
 * automaton state; it advances with every token the sequence receives, drawn or appended, and a
 * token the constraint does not allow is the request's error ({@link TokenRejectedException}).
 */
final class Constraint implements StatefulProcessor<Constraint.State> {
  private final TokenDfa dfa;
  private final String what;

  Constraint(TokenDfa dfa, String what) {
    this.dfa = dfa;
    this.what = what;
  }

  @Override
  public State newState(TokenHistory history) {
    State state = new State(dfa.start());
    for (int i = history.promptLength(); i < history.length(); i++) {
      state.accept(history.token(i));
    }
    return state;
  }

  @Override
  public void apply(Candidates c, SamplingContext context, State state) {
    long[] mask = dfa.mask(state.at);
    int n = 0;
    int[] kept;
    if (c.isDense()) {
      kept = c.scratchInts(Math.min(c.size(), mask.length << 6));
      for (int w = 0; w < mask.length; w++) {
        for (long bits = mask[w]; bits != 0; bits &= bits - 1) {
          int id = (w << 6) | Long.numberOfTrailingZeros(bits);
          if (id < c.vocabSize()) {
            kept[n++] = id;
          }
        }
      }
      c.retain(kept, n, false);
      return;
    }
    kept = c.scratchInts(c.size());
    for (int i = 0; i < c.size(); i++) {
      int id = c.id(i);
      if (TokenDfa.allowed(mask, id)) {
        kept[n++] = id;
      }
    }
    c.retain(kept, n, c.isSorted());
  }

  /** Where the sequence's output stands in the constraint's automaton. */
  final class State implements SequenceState {
    private final int start;
    private int at;

    State(int start) {
      this.start = start;
      this.at = start;
    }

    @Override
    public void accept(int tokenId) {
      int next = dfa.step(at, tokenId);
      if (next == TokenDfa.REJECT) {
        throw new TokenRejectedException(dfa.tokens().describe(tokenId) + " does not fit " + what
            + (dfa.isAccept(at) ? " (the output already matches it whole: only EOS may follow)"
                : " at this point of the output"));
      }
      at = next;
    }

    @Override
    public void reset() {
      at = start;
    }

    @Override
    public SequenceState copy() {
      State copy = new State(start);
      copy.at = at;
      return copy;
    }
  }
}
