package dev.tally.server.exec;

import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.Chain;

/** What sampling one row needs besides the logits. */
public record RowJob(Chain chain, TokenLog history, long seed) {}
