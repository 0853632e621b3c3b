package dev.tally.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code tally demo} end to end: a real server on a Unix socket and the n-gram model's loop. */
final class DemoCommandTest {
  @Test
  void printsEverySettingAndIsReproducible() {
    String first = run("--tokens", "15", "--seed", "3");
    String second = run("--tokens", "15", "--seed", "3");

    assertThat(first).contains("== greedy (temperature 0)", "== temperature 0.7, top_p 0.9",
        "== temperature 0.7, top_p 0.9, repetition_penalty 1.3", "== temperature 1.5",
        "mean logprob", "first tokens, with raw logprob and rank");
    assertThat(first).contains("through one Session");
    // Same seed, same model: the same text (the socket path and timing lines differ).
    assertThat(textOnly(first)).isEqualTo(textOnly(second));
    // Greedy decoding is rank 1 at every step.
    String greedy = first.substring(first.indexOf("== greedy"), first.indexOf("== temperature 0.7"));
    assertThat(greedy).doesNotContainPattern("#[2-9]");
    // The stop strings end the greedy text at its first sentence, across the vocabulary's bytes.
    assertThat(first).contains("Vocabulary 'coriolanus-trigram' registered (3,067 tokens");
    String stopped = first.substring(first.indexOf("== greedy, stop strings"));
    assertThat(stopped).contains("   I will not so rich a jewel.\n",
        "over 9 tokens, ended by stop string \".\"");
    // The constrained run: one speaker's name, then EOS, whatever the model preferred.
    String constrained = first.substring(first.indexOf("== greedy, structured_output"));
    assertThat(constrained).containsPattern(
        "\n   MENENIUS: (CORIOLANUS|MENENIUS|SICINIUS|VOLUMNIA)\n")
        .contains("over 2 tokens, ended by EOS");
    // Speculative decoding: the sampled setting again, with drafts, gives the same tokens.
    assertThat(first).containsPattern("== speculative decoding: \"temperature 0\\.7, top_p 0\\.9\""
        + " again, with 4-token greedy drafts verified strictly\n   [0-9]+ tokens in [0-9]+ steps"
        + " instead of [0-9]+: [0-9]+ of [0-9]+ draft tokens accepted; the same tokens as without"
        + " speculation\n");
  }

  private static String textOnly(String output) {
    return output.substring(output.indexOf("== greedy"), output.lastIndexOf("sequences in one"));
  }

  private static String run(String... args) {
    PrintStream original = System.out;
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
      int exit = new CommandLine(new DemoCommand()).execute(args);
      assertThat(exit).isZero();
    } finally {
      System.setOut(original);
    }
    return buffer.toString(StandardCharsets.UTF_8);
  }
}
