package dev.tally.server.exec;

import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.Chain;

/**
 * What sampling one row needs besides the logits: its chain, history and seed, the token to score
 * instead of drawing ({@link RowSampler#DRAW} to draw), and, on the first row of a draft block,
 * the draft tokens: that row's job then samples the block's k + 1 rows in order, appending each
 * accepted draft token to {@code history} (the block's own copy). The block's other rows are
 * {@link #continuation continuations}.
 */
public record RowJob(Chain chain, TokenLog history, long seed, int target, int[] draft) {

  /** A row that draws. */
  public RowJob(Chain chain, TokenLog history, long seed) {
    this(chain, history, seed, RowSampler.DRAW, null);
  }

  /** A row that draws, or scores {@code target}. */
  public RowJob(Chain chain, TokenLog history, long seed, int target) {
    this(chain, history, seed, target, null);
  }

  /** A later row of a draft block: sampled by the block's first row. */
  public static RowJob continuation(long seed) {
    return new RowJob(null, null, seed, RowSampler.DRAW, null);
  }

  public boolean isContinuation() {
    return chain == null;
  }
}
