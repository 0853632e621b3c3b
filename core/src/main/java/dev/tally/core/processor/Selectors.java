package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.FastMath;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.TokenSelector;
import java.util.List;

/** The built-in selectors: greedy and the seeded draw. */
final class Selectors {
  private Selectors() {}

  /** Argmax over the candidates, ties to the lowest token id. */
  static final SelectorFactory GREEDY = Factories.selector("greedy",
      "Chooses the most likely candidate; ties go to the lowest token id.", List.of(),
      p -> new Greedy());

  /**
   * The seeded draw: inverse-CDF sampling from the softmax over the candidates, in candidate-list
   * order, with u from the counter-based generator (stream 0). Accumulates in double.
   */
  static final SelectorFactory DRAW = Factories.selector("draw",
      "Draws a token from the softmax over the candidates, with the sequence's counter-based random stream.",
      List.of(), p -> new Draw());

  static final class Greedy implements TokenSelector {
    @Override
    public int select(Candidates c, SamplingContext context) {
      return c.argmax();
    }

    @Override
    public boolean isDeterministic() {
      return true;
    }
  }

  static final class Draw implements TokenSelector {
    @Override
    public int select(Candidates c, SamplingContext context) {
      float max = c.maxLogit();
      if (max == Float.NEGATIVE_INFINITY) {
        return -1;
      }
      int n = c.size();
      // Each term once, with SIMD while the list is the vocabulary; the sums below run in list
      // order over the same float terms as ever, so the same token comes out for the same seed.
      float[] terms = c.scratchFloats(n);
      c.expInto(max, terms);
      double total = 0;
      for (int i = 0; i < n; i++) {
        total += terms[i];
      }
      double target = context.random(0) * total;
      double cumulative = 0;
      int last = -1;
      for (int i = 0; i < n; i++) {
        int id = c.id(i);
        if (c.logit(id) == Float.NEGATIVE_INFINITY) {
          continue;
        }
        cumulative += terms[i];
        last = id;
        if (cumulative > target) {
          return id;
        }
      }
      return last; // rounding left target just above the last partial sum
    }
  }
}
