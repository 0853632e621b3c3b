package dev.tally.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Values that are not even of the option's type (not a number, not a duration, not a boolean) are
 * listed together, from flags, the environment and the config file alike, each naming its option.
 */
final class ConfigErrorsTest {
  @TempDir Path dir;

  private record Run(int exit, String err) {}

  /** The real entry point (as {@code main} runs it), with stderr captured. */
  private static Run tally(Map<String, String> env, String... args) {
    PrintStream saved = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int exit = TallyCommand.execute(args, env);
      // Only our text: a fuzzer's agent in the test JVM may log class loads to stderr first.
      String text = err.toString(StandardCharsets.UTF_8);
      int ours = text.indexOf("tally serve: ");
      return new Run(exit, ours < 0 ? text : text.substring(ours));
    } finally {
      System.setErr(saved);
    }
  }

  @Test
  void everyBadValueIsListedAtOnceNamingItsOptionAndSource() throws Exception {
    Path file = dir.resolve("tally.properties");
    Files.writeString(file, "max-vocab-size = big\nshutdown-grace = soon\n");
    Run run = tally(Map.of("TALLY_MAX_SESSIONS", "many", "TALLY_INSECURE", "maybe"),
        "serve", "--config", file.toString(), "--max-rows", "abc", "--step-deadline", "xyz",
        "--threads=2x", "--max-top-logprobs", "-1");
    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.err()).isEqualTo("tally serve: invalid configuration:\n"
        + "  - --insecure (env TALLY_INSECURE): 'maybe' is not true or false\n"
        + "  - --max-sessions (env TALLY_MAX_SESSIONS): 'many' is not an integer\n"
        + "  - --max-vocab-size (file " + file + "): 'big' is not an integer\n"
        + "  - --shutdown-grace (file " + file + "): 'soon' is not an integer\n"
        + "  - --max-rows: 'abc' is not an integer\n"
        + "  - --step-deadline: not a duration: 'xyz' (try 10s, 500ms, 2m)\n"
        + "  - --threads: '2x' is not an integer\n"
        + "  - --max-top-logprobs must not be negative, got -1\n");
  }

  @Test
  void aBadDurationFromTheEnvironmentNamesTheVariable() {
    Run run = tally(Map.of("TALLY_STEP_DEADLINE", "0s", "TALLY_MAX_ROWS", " 12 "), "serve",
        "--max-vocab-size", "1e6", "--bogus");
    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.err()).isEqualTo("tally serve: invalid configuration:\n"
        + "  - --max-rows (env TALLY_MAX_ROWS): ' 12 ' is not an integer\n"
        + "  - --step-deadline (env TALLY_STEP_DEADLINE): must be positive: 0s\n"
        + "  - --max-vocab-size: '1e6' is not an integer\n"
        + "  - Unknown option: '--bogus'\n");
  }
}
