package dev.tally.core.session;

/**
 * A sequence's draft tokens for one step ({@code SessionRequest.drafts}): the sequence owns
 * {@code tokenIds.length + 1} consecutive rows, verified strictly.
 */
public record DraftSpec(long sequenceId, int[] tokenIds) {}
