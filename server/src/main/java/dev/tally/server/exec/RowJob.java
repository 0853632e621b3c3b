package dev.tally.server.exec;

import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.Chain;

/**
 * What sampling one row needs besides the logits: its chain, history and seed, and the token to
 * score instead of drawing ({@link dev.tally.core.engine.RowSampler#DRAW} to draw).
 */
public record RowJob(Chain chain, TokenLog history, long seed, int target) {

  /** A row that draws. */
  public RowJob(Chain chain, TokenLog history, long seed) {
    this(chain, history, seed, dev.tally.core.engine.RowSampler.DRAW);
  }
}
