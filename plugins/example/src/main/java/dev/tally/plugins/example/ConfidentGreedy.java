package dev.tally.plugins.example;

import dev.tally.spi.Candidates;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.TokenSelector;
import java.util.List;

/**
 * {@code example_confident_greedy}: takes the most likely token when its probability is at least
 * {@code threshold}, and otherwise draws from the candidates.
 *
 * <p>A selector ends the chain and chooses the token. It reports what it drew from by leaving
 * exactly those tokens in the candidates: the server computes the token's processed logprob over
 * what is left (0 when only the chosen token is).
 */
final class ConfidentGreedy implements TokenSelector {
  /** Plugins draw their random numbers from streams 1024 and up (stream 0 is the built-in draw). */
  static final int STREAM = 1024;

  static final SelectorFactory FACTORY = new SelectorFactory() {
    private final List<ParamSpec> params = List.of(
        ParamSpec.number("threshold", "Probability at or above which the top token is taken.")
            .withDefault(0.5).withRange(0, false, 1, true));

    @Override
    public String name() {
      return "example_confident_greedy";
    }

    @Override
    public String description() {
      return "Example plugin: greedy when the top token is likely enough, else a seeded draw.";
    }

    @Override
    public List<ParamSpec> params() {
      return params;
    }

    @Override
    public TokenSelector create(Params p) {
      return new ConfidentGreedy(p.getDouble("threshold"));
    }
  };

  private final double threshold;

  ConfidentGreedy(double threshold) {
    this.threshold = threshold;
  }

  @Override
  public int select(Candidates c, SamplingContext context) {
    c.sort(); // best first; removed tokens dropped
    double lse = c.logSumExp();
    if (Math.exp(c.logit(c.id(0)) - lse) >= threshold) {
      c.truncate(1); // drew from one token: processed logprob 0
      return c.id(0);
    }
    double u = context.random(STREAM);
    double cumulative = 0;
    for (int i = 0; i < c.size(); i++) {
      cumulative += Math.exp(c.logit(c.id(i)) - lse);
      if (u < cumulative) {
        return c.id(i);
      }
    }
    return c.id(c.size() - 1);
  }
}
