package dev.tally.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.TallyServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code tally health}: 0 against a serving server, non-zero once it has stopped. */
final class HealthCommandTest {
  @TempDir Path dir;

  private static int health(String target, ByteArrayOutputStream out) {
    HealthCommand command = new HealthCommand();
    command.out = new PrintStream(out, true, StandardCharsets.UTF_8);
    return new CommandLine(command).execute("--target", target, "--timeout", "2s");
  }

  @Test
  void exitCodesAgainstAServingAndAStoppedServer() {
    Path socket = dir.resolve("h.sock");
    TallyServer server = Servers.create(ServerConfig.defaults().withSamplerThreads(1)
        .withListeners(List.of(ListenAddress.parse("127.0.0.1:0"),
            ListenAddress.parse("unix:" + socket)))).start();
    String tcp = "127.0.0.1:" + server.tcpPort();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      assertThat(health(tcp, out)).isZero();
      assertThat(health("unix:" + socket, out)).isZero();
    } finally {
      server.stop();
    }
    assertThat(out.toString(StandardCharsets.UTF_8))
        .isEqualTo(tcp + ": SERVING\nunix:" + socket + ": SERVING\n");
    ByteArrayOutputStream after = new ByteArrayOutputStream();
    assertThat(health(tcp, after)).isEqualTo(2);
    assertThat(after.toString(StandardCharsets.UTF_8)).startsWith(tcp + ": UNAVAILABLE");
    assertThat(health("unix:" + socket, new ByteArrayOutputStream())).isEqualTo(2);
  }
}
