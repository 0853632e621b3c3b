package dev.tally.core.session;

import dev.tally.core.pipeline.SamplingConfig;

/** A sequence a session step registers: its id, settings and the tokens it already has. */
public record SequenceSpec(long id, SamplingConfig config, int[] promptTokenIds,
    int[] outputTokenIds) {}
