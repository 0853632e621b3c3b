package dev.tally.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.TallyServer;
import dev.tally.server.transport.TestCerts;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code tally health} against TLS and mutual-TLS listeners. */
final class HealthTlsTest {
  @TempDir static Path dir;
  static TestCerts server;
  static TestCerts client;

  @BeforeAll
  static void certificates() throws Exception {
    server = TestCerts.selfSigned(dir, "tally-server");
    client = TestCerts.selfSigned(dir, "model-server");
  }

  private record Result(int exit, String out) {}

  private static Result health(String target, String... tls) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    HealthCommand command = new HealthCommand();
    command.out = new PrintStream(out, true, StandardCharsets.UTF_8);
    List<String> args = new ArrayList<>(List.of("--target", target, "--timeout", "5s"));
    args.addAll(List.of(tls));
    int exit = new CommandLine(command).execute(args.toArray(String[]::new));
    return new Result(exit, out.toString(StandardCharsets.UTF_8));
  }

  private static TallyServer start(Path clientCa) {
    return Servers.create(ServerConfig.defaults().withSamplerThreads(1)
        .withListeners(List.of(ListenAddress.parse("127.0.0.1:0")))
        .withTls(new ServerConfig.Tls(server.cert, server.key, clientCa))).start();
  }

  @Test
  void tlsListener() {
    TallyServer s = start(null);
    String target = "127.0.0.1:" + s.tcpPort();
    try {
      assertThat(health(target, "--tls-ca", server.cert.toString()))
          .isEqualTo(new Result(0, target + ": SERVING\n"));
      // Plaintext against TLS, or a CA that did not issue the server's certificate: unreachable.
      assertThat(health(target).exit()).isEqualTo(2);
      assertThat(health(target, "--tls-ca", client.cert.toString()).out())
          .startsWith(target + ": UNAVAILABLE");
    } finally {
      s.stop();
    }
  }

  @Test
  void mutualTlsListenerNeedsTheClientCertificate() {
    TallyServer s = start(client.cert);
    String target = "127.0.0.1:" + s.tcpPort();
    try {
      assertThat(health(target, "--tls-ca", server.cert.toString(), "--tls-cert",
          client.cert.toString(), "--tls-key", client.key.toString()))
          .isEqualTo(new Result(0, target + ": SERVING\n"));
      Result without = health(target, "--tls-ca", server.cert.toString());
      assertThat(without.exit()).isEqualTo(2);
      assertThat(without.out()).startsWith(target + ": UNAVAILABLE");
    } finally {
      s.stop();
    }
  }

  @Test
  void badTlsOptionsExitTwoNamingTheOption() {
    assertThat(health("127.0.0.1:1", "--tls-cert", client.cert.toString())).isEqualTo(
        new Result(2, "127.0.0.1:1: --tls-cert and --tls-key go together\n"));
    assertThat(health("127.0.0.1:1", "--tls-ca", dir.resolve("none.pem").toString())).isEqualTo(
        new Result(2, "127.0.0.1:1: --tls-ca: cannot read " + dir.resolve("none.pem") + "\n"));
    assertThat(health("unix:" + dir.resolve("x.sock"), "--tls")).isEqualTo(new Result(2,
        "unix:" + dir.resolve("x.sock") + ": unix: targets do not use TLS; drop the --tls"
            + " options\n"));
  }
}
