package dev.tally.structured.automaton;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.structured.regex.Regex;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The mask against a brute-force oracle that shares no code with it: {@code java.util.regex}
 * decides, for the output so far plus each token's text, whether the whole is a match or can
 * still become one ({@code hitEnd}). On random walks through each pattern, every token of the
 * vocabulary must be allowed exactly when the oracle says so, EOS exactly on a whole match.
 */
final class TokenDfaOracleTest {
  private static final String[] PATTERNS = {
    "\\{\"name\": \"[a-z]{1,8}\", \"age\": [1-9][0-9]?\\}",
    "(yes|no|maybe)",
    "\\d{4}-(0[1-9]|1[0-2])-\\d{2}",
    "[A-Z][a-z]+( [A-Z][a-z]+)*\\.",
    "(a|bc)*d?",
    "\\[(\\d+(, \\d+)*)?\\]",
    "[^\"\\\\]{0,12}\"",
  };
  // 0 = EOS (special); ids past the vocabulary are padding.
  private static final int EOS = 0;

  private static byte[][] vocabulary(Random r) {
    List<byte[]> tokens = new ArrayList<>();
    tokens.add("<eos>".getBytes(StandardCharsets.US_ASCII));
    for (int c = 0x20; c < 0x7F; c++) {
      tokens.add(new byte[] {(byte) c});
    }
    String alphabet = "abcdyesnomaybe0123456789-{}[]\", :.ABCZ\\";
    for (int i = 0; i < 400; i++) {
      StringBuilder t = new StringBuilder();
      for (int n = 2 + r.nextInt(6); n > 0; n--) {
        t.append(alphabet.charAt(r.nextInt(alphabet.length())));
      }
      tokens.add(t.toString().getBytes(StandardCharsets.US_ASCII));
    }
    for (String common : new String[] {"{\"name\": \"", "\", \"age\": ", "yes", "maybe", "2026",
        "-12-", ", ", "]"}) {
      tokens.add(common.getBytes(StandardCharsets.US_ASCII));
    }
    return tokens.toArray(new byte[0][]);
  }

  @Test
  void theMaskIsExactlyWhatTheOracleAllows() {
    Random r = new Random(1207);
    byte[][] tokens = vocabulary(r);
    TokenTable table = new TokenTable(new TestVocabulary(tokens, new int[] {EOS}, new int[] {EOS}));
    int checkedStates = 0;
    for (String regex : PATTERNS) {
      TokenDfa dfa = new TokenDfa(Regex.compile(regex), table, new int[] {EOS});
      Pattern oracle = Pattern.compile(regex);
      for (int walk = 0; walk < 12; walk++) {
        StringBuilder out = new StringBuilder();
        int state = dfa.start();
        for (int step = 0; step < 40; step++) {
          long[] mask = dfa.mask(state);
          List<Integer> allowed = new ArrayList<>();
          for (int id = 0; id < tokens.length; id++) {
            boolean expected = id == EOS ? oracle.matcher(out).matches()
                : viable(oracle, out + new String(tokens[id], StandardCharsets.US_ASCII));
            assertThat(TokenDfa.allowed(mask, id)).as("%s after '%s': token %d '%s'", regex, out,
                id, new String(tokens[id], StandardCharsets.US_ASCII)).isEqualTo(expected);
            assertThat(dfa.step(state, id) != TokenDfa.REJECT).isEqualTo(expected);
            if (expected) {
              allowed.add(id);
            }
          }
          assertThat(TokenDfa.allowed(mask, tokens.length + 3)).as("padding").isFalse();
          checkedStates++;
          if (allowed.isEmpty()) {
            throw new AssertionError(regex + ": nothing allowed after '" + out + "'");
          }
          int id = allowed.get(r.nextInt(allowed.size()));
          if (id == EOS) {
            break;
          }
          state = dfa.step(state, id);
          out.append(new String(tokens[id], StandardCharsets.US_ASCII));
        }
      }
    }
    assertThat(checkedStates).isGreaterThan(500);
  }

  private static boolean viable(Pattern p, String text) {
    Matcher m = p.matcher(text);
    return m.matches() || m.hitEnd();
  }

  @Test
  void aCharacterSplitAcrossTokensIsFollowedByteByByte() {
    // "é" is C3 A9: token 1 holds its first byte, token 2 its second, token 3 both.
    byte[][] tokens = {"<eos>".getBytes(StandardCharsets.US_ASCII), {(byte) 0xC3},
        {(byte) 0xA9}, "é".getBytes(StandardCharsets.UTF_8), {'e'}, {(byte) 0xC3, 'e'}};
    TokenTable table = new TokenTable(new TestVocabulary(tokens, new int[] {0}, new int[] {0}));
    TokenDfa dfa = new TokenDfa(Regex.compile("é+"), table, new int[] {0});
    assertThat(allowedIds(dfa, dfa.start(), tokens.length)).containsExactly(1, 3);
    int half = dfa.step(dfa.start(), 1);
    assertThat(allowedIds(dfa, half, tokens.length)).containsExactly(2);
    int whole = dfa.step(half, 2);
    assertThat(allowedIds(dfa, whole, tokens.length)).containsExactly(0, 1, 3);
    assertThat(dfa.step(whole, 0)).isEqualTo(whole); // EOS keeps an accepting state
  }

  @Test
  void theTrieWalkAgreesWithWalkingEveryTokenOnPrefixHeavyVocabularies() {
    // 6,000 tokens over a 5-letter alphabet: many shared prefixes, tokens that are prefixes of
    // others, duplicates, multi-byte characters split anywhere; ids 0-2 special.
    Random r = new Random(99);
    byte[][] tokens = new byte[6_000][];
    String alphabet = "ab\"é{";
    for (int i = 0; i < tokens.length; i++) {
      StringBuilder t = new StringBuilder();
      for (int n = 1 + r.nextInt(6); n > 0; n--) {
        t.append(alphabet.charAt(r.nextInt(alphabet.length())));
      }
      byte[] utf8 = t.toString().getBytes(StandardCharsets.UTF_8);
      tokens[i] = r.nextInt(4) == 0 ? java.util.Arrays.copyOf(utf8, 1 + r.nextInt(utf8.length))
          : utf8;
    }
    TokenTable table = new TokenTable(new TestVocabulary(tokens, new int[] {0, 1, 2},
        new int[] {0}));
    for (String regex : new String[] {"(ab|é)*\"", "[a\"]{2,9}b?é", "\\{?(a+b)*é*"}) {
      TokenDfa dfa = new TokenDfa(Regex.compile(regex), table, new int[] {0});
      int state = dfa.start();
      for (int step = 0; step < 30; step++) {
        long[] mask = dfa.mask(state);
        List<Integer> allowed = new ArrayList<>();
        for (int id = 0; id < tokens.length; id++) {
          boolean walked = dfa.step(state, id) != TokenDfa.REJECT;
          assertThat(TokenDfa.allowed(mask, id)).as("%s, token %d", regex, id).isEqualTo(walked);
          if (walked && id != 0) {
            allowed.add(id);
          }
        }
        if (allowed.isEmpty()) {
          break;
        }
        state = dfa.step(state, allowed.get(r.nextInt(allowed.size())));
      }
    }
  }

  private static List<Integer> allowedIds(TokenDfa dfa, int state, int n) {
    List<Integer> ids = new ArrayList<>();
    long[] mask = dfa.mask(state);
    for (int id = 0; id < n; id++) {
      if (TokenDfa.allowed(mask, id)) {
        ids.add(id);
      }
    }
    return ids;
  }
}
