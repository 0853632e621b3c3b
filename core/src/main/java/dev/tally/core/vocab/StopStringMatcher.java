package dev.tally.core.vocab;

import dev.tally.spi.TokenHistory;

/** Matches {@link StopStrings} for one sampler thread: it owns the scratch bytes. */
public final class StopStringMatcher {
  private byte[] scratch = new byte[2 * StopStrings.MAX_BYTES];

  /**
   * Whether appending {@code token} to {@code history}'s output completes one of {@code stops}.
   *
   * @return {@code -1} for no match, else {@code index << 32 | trailingBytes}: which string, and
   *     how many of the token's bytes come after the match
   */
  public long find(StopStrings stops, Vocabulary vocabulary, TokenHistory history, int token) {
    int need = stops.scratchLength(vocabulary, token);
    if (scratch.length < need) {
      scratch = new byte[Math.max(need, 2 * scratch.length)];
    }
    return stops.find(vocabulary, history, token, scratch);
  }
}
