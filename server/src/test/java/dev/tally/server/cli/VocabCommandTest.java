package dev.tally.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.TallyServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code tally vocab import} and {@code tally vocab list} against a real server. */
final class VocabCommandTest {
  private static final String TOKENIZER = "{\"added_tokens\": [{\"id\": 3, \"content\":"
      + " \"<|eot_id|>\", \"special\": true}], \"decoder\": {\"type\": \"ByteLevel\"},"
      + " \"model\": {\"type\": \"BPE\", \"vocab\": {\"Hi\": 0, \"\u0120there\": 1, \"\u010a\": 2},"
      + " \"merges\": [\"H i\"]}}";

  private static TallyServer server;
  private static String target;
  @TempDir Path dir;

  @BeforeAll
  static void start() {
    server = Servers.create(ServerConfig.defaults().withSamplerThreads(1)
        .withListeners(List.of(ListenAddress.parse("127.0.0.1:0")))).start();
    target = "127.0.0.1:" + server.tcpPort();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  private record Run(int exit, String out, String err) {}

  private static Run vocab(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = new CommandLine(new VocabCommand());
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int exit = cli.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  @Test
  void importRegistersTheTokenizersBytesAndListShowsIt() throws Exception {
    Path file = Files.writeString(dir.resolve("tokenizer.json"), TOKENIZER, StandardCharsets.UTF_8);
    Run first = vocab("import", file.toString(), "--name", "cli-toy", "--eos", "<|eot_id|>",
        "--target", target);
    assertThat(first.exit()).as(first.err()).isZero();
    // "Hi" + " there" + "\n": 9 bytes; the special token holds none.
    assertThat(first.out()).startsWith("registered 'cli-toy': 4 tokens (byte_level), 1 special,"
        + " EOS [3], 9 B of token bytes, fingerprint ");
    Run again = vocab("import", file.toString(), "--name", "cli-toy", "--eos", "3",
        "--target", target);
    assertThat(again.out()).startsWith("already registered 'cli-toy'");

    Run list = vocab("list", "--target", target);
    assertThat(list.exit()).isZero();
    assertThat(list.out().lines().toList()).hasSize(2);
    assertThat(list.out().lines().toList().get(1))
        .matches("cli-toy +4 +1 \\[3] +9 B  [0-9a-f]{12}");
  }

  @Test
  void badInputIsOneLineAndANonZeroExit() throws Exception {
    Path file = Files.writeString(dir.resolve("tokenizer.json"), TOKENIZER, StandardCharsets.UTF_8);
    Run eos = vocab("import", file.toString(), "--name", "cli-bad", "--eos", "</s>",
        "--target", target);
    assertThat(eos.exit()).isEqualTo(2);
    assertThat(eos.err()).isEqualTo("tally vocab import: " + file + ": --eos </s>: no such token"
        + " in the tokenizer (give a token string such as <|eot_id|>, or an id below 4)\n");
    Run missing = vocab("import", dir.resolve("nope.json").toString(), "--name", "x",
        "--target", target);
    assertThat(missing.exit()).isEqualTo(2);
    assertThat(missing.err()).isEqualTo("tally vocab import: " + dir.resolve("nope.json")
        + ": cannot read it (NoSuchFileException)\n");
    Path broken = Files.writeString(dir.resolve("broken.json"), "{\"model\": ");
    Run truncated = vocab("import", broken.toString(), "--name", "x", "--target", target);
    assertThat(truncated.exit()).isEqualTo(2);
    assertThat(truncated.err()).startsWith("tally vocab import: " + broken + ": ")
        .doesNotContain(broken + ": " + broken).hasLineCount(1);
    Run name = vocab("import", file.toString(), "--name", "bad name", "--target", target);
    assertThat(name.exit()).isEqualTo(1);
    assertThat(name.err()).startsWith("tally vocab import: " + target + ": INVALID_ARGUMENT a"
        + " vocabulary name is 1-128 characters");
  }
}
