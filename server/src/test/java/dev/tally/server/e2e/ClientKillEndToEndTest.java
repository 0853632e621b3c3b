package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 8: a client <em>process</em> killed with SIGKILL. A separate JVM ({@link
 * SessionClientMain}) opens a Session over a real socket (TCP or the Unix socket), runs a few
 * steps (and, in the mid-step case, sends an 8 MiB step it never waits for), then is killed with
 * {@link Process#destroyForcibly()}: no half-close, no RST_STREAM, only the kernel closing the
 * socket. The server must free the session — {@code GetServerInfo.active_sessions} and the {@code
 * tally_sessions_active} / {@code tally_sequences_active} gauges back to 0 — and serve a new
 * session on the same listener afterwards.
 */
final class ClientKillEndToEndTest {
  @TempDir Path dir;
  private Process client;

  @AfterEach
  void killLeftovers() throws Exception {
    if (client != null && client.isAlive()) {
      client.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  static Stream<Arguments> cases() {
    return Stream.of(Arguments.of("tcp", "idle"), Arguments.of("uds", "idle"),
        Arguments.of("tcp", "midstep"), Arguments.of("uds", "midstep"));
  }

  @ParameterizedTest(name = "{0}, killed {1}")
  @MethodSource("cases")
  void sigkilledClientProcessFreesItsSession(String transport, String when) throws Exception {
    try (TestServer s = TestServer.start()) {
      String target = transport.equals("tcp") ? "127.0.0.1:" + s.server.tcpPort()
          : "unix:" + s.socket;
      IntSupplier active = () -> s.blocking(s.tcp)
          .getServerInfo(GetServerInfoRequest.getDefaultInstance()).getActiveSessions();
      MeterRegistry meters = s.server.metrics().registry();
      assertThat(active.getAsInt()).isZero();

      client = new ProcessBuilder(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
          "-cp", System.getProperty("java.class.path"), SessionClientMain.class.getName(),
          target, "5", when))
          .redirectError(dir.resolve("client.err").toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
      BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream(),
          StandardCharsets.UTF_8));
      String line = CompletableFuture.supplyAsync(() -> {
        try {
          return out.readLine();
        } catch (java.io.IOException e) {
          return "read failed: " + e;
        }
      }).get(60, TimeUnit.SECONDS);
      assertThat(line).as("client stdout (stderr in %s)", dir.resolve("client.err"))
          .isEqualTo("ready 5");

      // The session is really open on the server before the kill (else the test proves nothing).
      assertThat(active.getAsInt()).isEqualTo(1);
      assertThat(gauge(meters, "tally.sessions.active")).isEqualTo(1);
      assertThat(gauge(meters, "tally.sequences.active"))
          .isGreaterThanOrEqualTo(SessionClientMain.SEQUENCES);

      client.destroyForcibly();
      assertThat(client.waitFor(30, TimeUnit.SECONDS)).as("client process gone").isTrue();
      assertThat(client.exitValue()).as("killed by SIGKILL").isEqualTo(128 + 9);

      // Bounded wait (generous: the machine is shared); no timing is asserted inside it.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while ((active.getAsInt() != 0 || gauge(meters, "tally.sessions.active") != 0
          || gauge(meters, "tally.sequences.active") != 0) && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertThat(active.getAsInt()).as("active_sessions after the kill").isZero();
      assertThat(gauge(meters, "tally.sessions.active")).isZero();
      assertThat(gauge(meters, "tally.sequences.active")).isZero();

      // The listener the dead client used still serves a new session.
      try (TestServer.SessionClient next = s.session(transport.equals("tcp") ? s.tcp : s.uds)) {
        SessionResponse r = next.step(SessionRequest.newBuilder().setStepId(1)
            .addAdded(Sequence.newBuilder().setId(1)
                .setParams(SamplingParams.newBuilder().setTemperature(0f)))
            .addRowSequenceIds(1).setLogits(TestServer.f32(1, 4, 0f, 1f, 5f, 2f)).build());
        assertThat(r.hasError()).isFalse();
        assertThat(r.getChoices(0).getTokenId()).isEqualTo(2);
        assertThat(active.getAsInt()).isEqualTo(1);
        assertThat(next.finish()).isEqualTo("completed");
      }
    }
  }

  private static int gauge(MeterRegistry meters, String name) {
    return (int) meters.get(name).gauge().value();
  }
}
