package dev.tally.core.session;

/**
 * Prompt tokens of a sequence to score in one step ({@code SessionRequest.prompt_scores}): row j
 * of the sequence's {@code count} consecutive rows scores prompt token {@code start + j + 1}.
 */
public record PromptScoreSpec(long sequenceId, int start, int count) {}
