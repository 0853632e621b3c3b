package dev.tally.core.session;

import dev.tally.core.pipeline.SamplingConfig;

/**
 * A sequence a session step registers: its id, settings, the tokens it already has and where its
 * cumulative logprob starts.
 */
public record SequenceSpec(long id, SamplingConfig config, int[] promptTokenIds,
    int[] outputTokenIds, double cumulativeLogprob) {

  /** A sequence whose cumulative logprob starts at 0. */
  public SequenceSpec(long id, SamplingConfig config, int[] promptTokenIds, int[] outputTokenIds) {
    this(id, config, promptTokenIds, outputTokenIds, 0);
  }
}
