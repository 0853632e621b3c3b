package dev.tally.core.session;

/** Tokens the model server placed in a sequence itself (forced, prefilled or speculative). */
public record AppendedTokens(long sequenceId, int[] tokenIds) {}
