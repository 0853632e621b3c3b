package dev.tally.core.session;

/**
 * A copy of a registered sequence a session step makes ({@code SessionRequest.forks}): the child's
 * id, its seed (explicit, derived from the parent's by {@code sampleIndex}, or the parent's), and
 * the tokens appended to it right after the copy.
 */
public record ForkSpec(long parentId, long childId, Long seed, Long sampleIndex,
    int[] appendTokenIds) {}
