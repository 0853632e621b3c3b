package dev.tally.core.vocab;

import static dev.tally.core.vocab.VocabularyFixture.bytes;
import static dev.tally.core.vocab.VocabularyFixture.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

final class StopStringsTest {
  // 0 "Hel", 1 "lo", 2 " wor", 3 "ld", 4 "</s>" (special), 5 "\n\n", 6 "!", 7 0xC3, 8 0xA9
  // (7 + 8 = "é" split in two tokens), 9 "Hello world"
  private static final Vocabulary VOCAB = VocabularyFixture.of("test", new int[] {4},
      new int[] {4}, utf8("Hel"), utf8("lo"), utf8(" wor"), utf8("ld"), utf8("</s>"),
      utf8("\n\n"), utf8("!"), bytes(0xC3), bytes(0xA9), utf8("Hello world"));

  private final StopStringMatcher matcher = new StopStringMatcher();

  private long find(List<String> stops, int[] prompt, int[] output, int token) {
    return matcher.find(StopStrings.of(stops, 0), VOCAB, TokenLog.of(prompt, output), token);
  }

  private static long match(int index, int trailing) {
    return (long) index << 32 | trailing;
  }

  @Test
  void matchesAcrossTokenBoundariesAndCountsTheTokensTrailingBytes() {
    assertThat(find(List.of("world"), new int[0], new int[] {0, 1, 2}, 3)).isEqualTo(match(0, 0));
    // "lo w" ends at the 'w' of " wor": "or" comes after it.
    assertThat(find(List.of("lo w"), new int[0], new int[] {0}, 1)).isEqualTo(-1);
    assertThat(find(List.of("lo w"), new int[0], new int[] {0, 1}, 2)).isEqualTo(match(0, 2));
    // A string spanning four tokens.
    assertThat(find(List.of("Hello world"), new int[0], new int[] {0, 1, 2}, 3))
        .isEqualTo(match(0, 0));
  }

  @Test
  void theMatchThatEndsFirstWinsThenTheEarlierString() {
    assertThat(find(List.of("or", " w"), new int[0], new int[] {0, 1}, 2)).isEqualTo(match(1, 2));
    assertThat(find(List.of("wor", "or"), new int[0], new int[] {1}, 2)).isEqualTo(match(0, 0));
    // Inside one token: "Hello world" holds "lo" (end 5) before "world" (end 11).
    assertThat(find(List.of("world", "lo"), new int[0], new int[0], 9)).isEqualTo(match(1, 6));
  }

  @Test
  void onlyOutputBytesCountAndOnlyMatchesEndingInTheNewToken() {
    // " wor" is prompt: "ld" alone does not spell "world".
    assertThat(find(List.of("world"), new int[] {2}, new int[0], 3)).isEqualTo(-1);
    // "world" was complete before "!": it ended the sequence then, not now.
    assertThat(find(List.of("world"), new int[0], new int[] {2, 3}, 6)).isEqualTo(-1);
    // A special token is not text: " wor" + "</s>" + "ld" is " world".
    assertThat(find(List.of("world"), new int[0], new int[] {2, 4}, 3)).isEqualTo(match(0, 0));
    assertThat(find(List.of("</s>"), new int[0], new int[0], 4)).isEqualTo(-1);
    // Padded ids (past the vocabulary) are not text either.
    assertThat(find(List.of("world"), new int[0], new int[] {2, 500}, 3)).isEqualTo(match(0, 0));
  }

  @Test
  void aMultiByteCharacterSplitAcrossTokensMatches() {
    assertThat(find(List.of("é"), new int[0], new int[] {7}, 8)).isEqualTo(match(0, 0));
    assertThat(find(List.of("é!"), new int[0], new int[] {7, 8}, 6)).isEqualTo(match(0, 0));
  }

  @Test
  void stopStringsWaitForMinTokens() {
    StopStrings stops = StopStrings.of(List.of("world"), 4);
    assertThat(matcher.find(stops, VOCAB, TokenLog.of(new int[0], new int[] {1, 2}), 3))
        .isEqualTo(-1); // the 3rd output token
    assertThat(matcher.find(stops, VOCAB, TokenLog.of(new int[0], new int[] {5, 1, 2}), 3))
        .isEqualTo(match(0, 0)); // the 4th
  }

  @Test
  void agreesWithMatchingTheWholeOutputOnRandomSequences() {
    Random random = new Random(20261207);
    byte[][] tokens = new byte[40][];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = randomBytes(random, 1 + random.nextInt(i % 7 == 0 ? 12 : 3));
    }
    Vocabulary vocab = VocabularyFixture.of("random", new int[] {0, 1}, new int[0], tokens);
    int checked = 0;
    for (int trial = 0; trial < 20_000; trial++) {
      int[] output = new int[random.nextInt(30)];
      for (int i = 0; i < output.length; i++) {
        output[i] = random.nextInt(tokens.length);
      }
      int token = random.nextInt(tokens.length);
      List<String> stops = new ArrayList<>();
      for (int s = 1 + random.nextInt(3); s > 0; s--) {
        stops.add(new String(randomBytes(random, 1 + random.nextInt(6)),
            java.nio.charset.StandardCharsets.ISO_8859_1));
      }
      List<String> distinct = new ArrayList<>(new java.util.LinkedHashSet<>(stops));
      // ISO-8859-1 strings of 'a'..'c' are their own UTF-8.
      long expected = bruteForce(vocab, distinct, output, token);
      long got = matcher.find(StopStrings.of(distinct, 0), vocab,
          TokenLog.of(new int[] {2, 3}, output), token);
      assertThat(got).as("trial %d", trial).isEqualTo(expected);
      checked += expected >= 0 ? 1 : 0;
    }
    assertThat(checked).as("trials that matched").isGreaterThan(2_000);
  }

  private static byte[] randomBytes(Random random, int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ('a' + random.nextInt(3));
    }
    return b;
  }

  /** The first occurrence, in the whole output, of a string ending inside the new token. */
  private static long bruteForce(Vocabulary vocab, List<String> stops, int[] output, int token) {
    ByteArrayOutputStream text = new ByteArrayOutputStream();
    for (int id : output) {
      if (vocab.isText(id)) {
        text.writeBytes(vocab.tokenBytes(id));
      }
    }
    int before = text.size();
    if (vocab.isText(token)) {
      text.writeBytes(vocab.tokenBytes(token));
    }
    String all = new String(text.toByteArray(), java.nio.charset.StandardCharsets.ISO_8859_1);
    int bestEnd = Integer.MAX_VALUE;
    int best = -1;
    for (int i = 0; i < stops.size(); i++) {
      String s = stops.get(i);
      for (int at = all.indexOf(s); at >= 0; at = all.indexOf(s, at + 1)) {
        int end = at + s.length();
        if (end > before) {
          if (end < bestEnd) {
            bestEnd = end;
            best = i;
          }
          break;
        }
      }
    }
    return best < 0 ? -1 : (long) best << 32 | (all.length() - bestEnd);
  }

  @Test
  void badStopStringsAreRefusedNamingTheString() {
    assertThatThrownBy(() -> StopStrings.of(List.of("a", ""), 0))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
          assertThat(e.field()).isEqualTo("stop_strings[1]");
          assertThat(e.getMessage()).isEqualTo("a stop string cannot be empty");
        });
    assertThatThrownBy(() -> StopStrings.of(List.of("é".repeat(129)), 0))
        .isInstanceOfSatisfying(TallyException.class, e -> assertThat(e.getMessage())
            .isEqualTo("a stop string is at most 256 bytes of UTF-8; this one is 258"));
    assertThatThrownBy(() -> StopStrings.of(List.of("x", "y", "x"), 0))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.field()).isEqualTo("stop_strings[2]");
          assertThat(e.getMessage()).isEqualTo("stop string 'x' is listed twice");
        });
    assertThatThrownBy(() -> StopStrings.of(Collections.nCopies(33, "x"), 0))
        .isInstanceOfSatisfying(TallyException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED));
  }
}
