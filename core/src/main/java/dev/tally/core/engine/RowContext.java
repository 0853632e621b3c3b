package dev.tally.core.engine;

import dev.tally.core.random.CounterRandom;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;

/** The {@link SamplingContext} of the row a sampler thread is working on; reused across rows. */
final class RowContext implements SamplingContext {
  private TokenHistory history;
  private long seed;

  void set(TokenHistory history, long seed) {
    this.history = history;
    this.seed = seed;
  }

  @Override
  public TokenHistory history() {
    return history;
  }

  @Override
  public long seed() {
    return seed;
  }

  @Override
  public double random(int stream) {
    return CounterRandom.uniform(seed, history.outputLength(), stream);
  }
}
