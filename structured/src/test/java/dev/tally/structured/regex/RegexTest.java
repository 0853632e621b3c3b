package dev.tally.structured.regex;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.lucene.util.automaton.Automaton;
import org.apache.lucene.util.automaton.Operations;
import org.junit.jupiter.api.Test;

final class RegexTest {
  private static boolean matches(String pattern, String text) {
    Automaton a = Regex.compile(pattern);
    return Operations.run(a, text);
  }

  @Test
  void theWholeOutputMatchesLikeJavaRegexDoes() {
    String[][] cases = {
      {"\\d{3}-\\d{4}", "555-1234", "5551234", "555-12345"},
      {"(?:ab)+c?", "ababc", "abac", ""},
      {"[a-c]*x|y{2,3}", "abcx", "yyyy", "y"},
      {"[^0-9\\s]+", "héllo", "he llo", "a1"},
      {"^\"[a-z]+\"$", "\"json\"", "json", "\"\""},
      {".\\..", "a.b", "a\nb", "ab"},
      {"\\u00e9\\x41\\u{1F600}", "éA\uD83D\uDE00", "eA", "éA"},
      {"(?<year>\\d{4})-(0[1-9]|1[0-2])", "2026-12", "2026-13", "26-12"},
      {"a+?b*?", "aab", "b", ""},
      {"[\\]\\-]+[-a]", "]-a", "a", "]"},
      {"\\w+@\\w+\\.com", "me@x.com", "me@x.org", "@x.com"},
    };
    for (String[] c : cases) {
      String pattern = c[0];
      for (int i = 1; i < c.length; i++) {
        // java.util.regex writes the braced code-point escape with x instead of u.
        boolean expected = java.util.regex.Pattern.compile(pattern.replace("\\u{", "\\x{"))
            .matcher(c[i]).matches();
        assertThat(matches(pattern, c[i])).as("%s on '%s'", pattern, c[i]).isEqualTo(expected);
      }
      assertThat(matches(pattern, c[1])).as("%s accepts '%s'", pattern, c[1]).isTrue();
      assertThat(matches(pattern, c[2])).as("%s rejects '%s'", pattern, c[2]).isFalse();
    }
  }

  @Test
  void escapedPunctuationStandsForItselfSoAChoiceCanBeSpelledAsAnAlternation() {
    // What ChainCompiler.choicePattern writes for structured_output.choice: every metacharacter
    // behind a backslash.
    Automaton a = Regex.compile("a\\.b|\\(x\\|y\\)\\*|\\\\|\\{2\\}\\[\\]\\^\\$\\?\\+\\/");
    for (String s : new String[] {"a.b", "(x|y)*", "\\", "{2}[]^$?+/"}) {
      assertThat(Operations.run(a, s)).as(s).isTrue();
    }
    assertThat(Operations.run(a, "axb")).isFalse();
    assertThat(Operations.run(a, "x")).isFalse();
  }

  @Test
  void everyUnsupportedConstructIsAnErrorNamingIt() {
    String[][] refused = {
      {"(a)\\1", "backreferences (\\1) are not supported (at character 3 of the pattern)"},
      {"a(?=b)", "lookaround assertions ((?=, (?!, (?<=, (?<!) are not supported (at character 1"},
      {"(?<!x)y", "lookaround assertions"},
      {"\\bword\\b", "word boundaries (\\b, \\B) are not supported (at character 0"},
      {"\\p{L}+", "Unicode property escapes (\\p{…}, \\P{…}) are not supported"},
      {"(?i)abc", "inline flags and other (? groups are not supported"},
      {"a*+", "possessive quantifiers (*+) are not supported"},
      {"a^b", "the anchor '^' is only supported at the start (^) or the end ($) of the pattern"},
      {"a{1001}", "the repetition bound 1001 is larger than 1000"},
      {"a{3,2}", "the repetition {3,2} has its bounds reversed"},
      {"(ab", "unbalanced '('"},
      {"ab)", "unbalanced ')'"},
      {"ab\\", "a trailing backslash"},
      {"[z-a]", "the range z-a is out of order"},
      {"[abc", "an unterminated character class"},
      {"*a", "'*' has nothing to repeat"},
      {"\\q", "the escape \\q is not supported"},
      {"[[:alpha:]]", "POSIX classes ([:alpha:]) are not supported"},
      {"[^\\x00-\\u{10FFFF}]", "the pattern matches no string"},
    };
    for (String[] r : refused) {
      assertThatThrownBy(() -> Regex.compile(r[0])).as(r[0])
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(r[1]);
    }
  }

  @Test
  void hostilePatternsFailFastWithinTheirBudgets() {
    // Exponential determinization ((a|b)*a(a|b){n}) and huge repetitions are refused, not built.
    assertThatThrownBy(() -> Regex.compile("(a|b)*a(a|b){40}"))
        .hasMessageContaining("too complex");
    assertThatThrownBy(() -> Regex.compile("((a{1000}){1000}){1000}"))
        .hasMessageContaining("too large");
    assertThatThrownBy(() -> Regex.compile("(".repeat(30_000) + ")".repeat(30_000)))
        .hasMessageContaining("groups are nested more than 256 deep");
    assertThat(Operations.run(Regex.compile("(".repeat(256) + "a" + ")".repeat(256)), "a"))
        .isTrue();
    assertThatThrownBy(() -> Regex.compile("a".repeat(Regex.MAX_LENGTH + 1)))
        .hasMessageContaining("at most 65536 are allowed");
  }
}
