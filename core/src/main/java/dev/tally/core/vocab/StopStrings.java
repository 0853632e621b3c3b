package dev.tally.core.vocab;

import dev.tally.core.error.TallyException;
import dev.tally.spi.TokenHistory;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A sequence's stop strings: it ends when its output bytes contain one, across token boundaries.
 * Matching is stateless (it reads the last output tokens back from the history), so the same rule
 * holds for a stateless {@code Sample} row, a {@code Session} sequence and a resumed one.
 *
 * <p>Only a match that ends inside the new token's bytes counts: an earlier one would have ended
 * the sequence before. Of several, the one ending first wins, then the earlier string in the
 * request. Like EOS, stop strings wait for {@code min_tokens}. Immutable and shared across rows;
 * a {@link StopStringMatcher} per sampler thread
 * brings the scratch buffer.
 */
public final class StopStrings {
  /** Bytes of one stop string (UTF-8). */
  public static final int MAX_BYTES = 256;
  /** Stop strings of one sequence. */
  public static final int MAX_COUNT = 32;

  private static final StopStrings NONE = new StopStrings(List.of(), new byte[0][], 0);

  private final List<String> strings;
  private final byte[][] utf8;
  private final int longest;
  private final long minTokens;

  private StopStrings(List<String> strings, byte[][] utf8, long minTokens) {
    this.strings = strings;
    this.utf8 = utf8;
    this.minTokens = minTokens;
    int max = 0;
    for (byte[] s : utf8) {
      max = Math.max(max, s.length);
    }
    this.longest = max;
  }

  public static StopStrings none() {
    return NONE;
  }

  /**
   * Checks and compiles the request's stop strings.
   *
   * @throws TallyException INVALID_PARAMS on an empty, over-long or duplicate string, LIMIT_EXCEEDED
   *     past {@link #MAX_COUNT}
   */
  public static StopStrings of(List<String> strings, long minTokens) {
    if (strings.isEmpty()) {
      return NONE;
    }
    if (strings.size() > MAX_COUNT) {
      throw new TallyException(dev.tally.core.error.ErrorCode.LIMIT_EXCEEDED, "stop_strings",
          "stop_strings has " + strings.size() + " strings; at most " + MAX_COUNT + " are allowed");
    }
    byte[][] utf8 = new byte[strings.size()][];
    for (int i = 0; i < utf8.length; i++) {
      String s = strings.get(i);
      String field = "stop_strings[" + i + "]";
      if (s.isEmpty()) {
        throw TallyException.invalidParams(field, "a stop string cannot be empty");
      }
      utf8[i] = s.getBytes(StandardCharsets.UTF_8);
      if (utf8[i].length > MAX_BYTES) {
        throw TallyException.invalidParams(field, "a stop string is at most " + MAX_BYTES
            + " bytes of UTF-8; this one is " + utf8[i].length);
      }
      if (strings.subList(0, i).contains(s)) {
        throw TallyException.invalidParams(field, "stop string '" + s + "' is listed twice");
      }
    }
    return new StopStrings(List.copyOf(strings), utf8, minTokens);
  }

  public boolean isEmpty() {
    return utf8.length == 0;
  }

  public List<String> strings() {
    return strings;
  }

  /**
   * Whether appending {@code token} to {@code history}'s output completes a stop string.
   *
   * @param scratch at least {@link #scratchLength} bytes
   * @return {@code -1} for no match, else {@code index << 32 | trailingBytes}: which string, and
   *     how many of the token's bytes come after the match (what a client drops from the text)
   */
  long find(Vocabulary vocabulary, TokenHistory history, int token, byte[] scratch) {
    int tokenLength = vocabulary.textLength(token);
    if (utf8.length == 0 || tokenLength == 0 || history.outputLength() + 1 < minTokens) {
      return -1;
    }
    int context = readBack(vocabulary, history, longest - 1, scratch);
    vocabulary.copyTextTail(token, tokenLength, scratch, context);
    int end = context + tokenLength;
    int bestEnd = Integer.MAX_VALUE;
    int best = -1;
    for (int i = 0; i < utf8.length; i++) {
      int e = firstEnd(utf8[i], scratch, context, end);
      if (e < bestEnd) {
        bestEnd = e;
        best = i;
      }
    }
    return best < 0 ? -1 : (long) best << 32 | (end - bestEnd);
  }

  /** The scratch {@link #find} needs for {@code token}. */
  int scratchLength(Vocabulary vocabulary, int token) {
    return longest - 1 + vocabulary.textLength(token);
  }

  /** Copies up to {@code want} of the output's last text bytes to {@code dst[0..]}; their count. */
  private static int readBack(Vocabulary vocabulary, TokenHistory history, int want, byte[] dst) {
    int got = 0;
    int i = history.length() - 1;
    while (i >= history.promptLength() && got < want) {
      got += vocabulary.textLength(history.token(i));
      i--;
    }
    // Tokens i+1.. hold `got` bytes; the window is their last `want`.
    int skip = Math.max(0, got - want);
    int at = 0;
    for (int j = i + 1; j < history.length(); j++) {
      int id = history.token(j);
      int len = vocabulary.textLength(id);
      int drop = Math.min(len, skip);
      skip -= drop;
      if (len > drop) {
        vocabulary.copyTextTail(id, len - drop, dst, at);
        at += len - drop;
      }
    }
    return at;
  }

  /** The end of the first occurrence of {@code s} that ends in {@code (context, end]}, or MAX. */
  private static int firstEnd(byte[] s, byte[] buf, int context, int end) {
    for (int e = Math.max(context + 1, s.length); e <= end; e++) {
      int start = e - s.length;
      int k = 0;
      while (k < s.length && buf[start + k] == s[k]) {
        k++;
      }
      if (k == s.length) {
        return e;
      }
    }
    return Integer.MAX_VALUE;
  }
}
