package dev.tally.structured.automaton;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.structured.regex.Regex;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Random;
import org.apache.lucene.util.automaton.ByteRunAutomaton;
import org.junit.jupiter.api.Test;

/** The byte automaton a constraint runs on admits well-formed UTF-8 only. */
class Utf8Test {
  private static final ByteRunAutomaton ANY_THREE =
      new ByteRunAutomaton(TokenDfa.utf8(Regex.compile("\"[^\"]{0,3}\"")), true, Integer.MAX_VALUE);

  @Test
  void overlongAndInvalidFormsAreRefused() {
    // E0 8F 9E and F0 87 9B 85 are overlong; ED A0 80 a surrogate; C0 AF, F5.., FF never UTF-8
    for (String hex : new String[] {"22e08f9e22", "22f0879b8522", "22eda08022", "22c0af22",
        "22f590808022", "22ff22", "2280" + "22", "22e0a022"}) {
      assertThat(run(hex)).as(hex).isFalse();
    }
    for (String hex : new String[] {"2222", "22c3a922", "22e0a08022", "22ed9fbf22",
        "22f0908080f48fbfbf22", "22efbfbd22"}) {
      assertThat(run(hex)).as(hex).isTrue();
    }
  }

  @Test
  void randomByteStringsAcceptedAreWellFormed() {
    Random random = new Random(20261207);
    int accepted = 0;
    for (int t = 0; t < 2_000_000; t++) {
      int n = 1 + random.nextInt(6);
      byte[] b = new byte[n + 2];
      b[0] = '"';
      b[n + 1] = '"';
      for (int i = 1; i <= n; i++) {
        b[i] = (byte) (random.nextBoolean() ? 0x80 + random.nextInt(128) : random.nextInt(256));
      }
      if (ANY_THREE.run(b, 0, b.length)) {
        accepted++;
        try {
          StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b));
        } catch (CharacterCodingException e) {
          throw new AssertionError("accepted malformed UTF-8 " + HexFormat.of().formatHex(b));
        }
      }
    }
    assertThat(accepted).isGreaterThan(10_000);
  }

  private static boolean run(String hex) {
    byte[] b = HexFormat.of().parseHex(hex);
    return ANY_THREE.run(b, 0, b.length);
  }
}
