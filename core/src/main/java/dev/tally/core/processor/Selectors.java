package dev.tally.core.processor;

import dev.tally.spi.Candidates;
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
   * order, with u from the counter-based generator (stream 0), exact in fixed point ({@link
   * Candidates#pick}).
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
      return c.pick(context.random(0));
    }
  }
}
