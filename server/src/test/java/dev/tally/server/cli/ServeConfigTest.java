package dev.tally.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.server.config.ConnectionLimits;
import dev.tally.server.config.ServerConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code serve}'s configuration: flag over environment over file over default. */
final class ServeConfigTest {
  @TempDir Path dir;

  private record Run(ServeCommand command, ByteArrayOutputStream out, ByteArrayOutputStream err) {}

  /** Parses like {@link TallyCommand#execute}, without running the server. */
  private Run parse(Map<String, String> env, String... args) throws Exception {
    ConfigDefaults defaults = new ConfigDefaults(env, ConfigDefaults.configFile(List.of(args), env));
    ServeCommand serve = new ServeCommand();
    CommandLine cli = new CommandLine(serve);
    cli.setDefaultValueProvider(defaults);
    serve.defaults = defaults;
    serve.env = env;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    serve.stdout = new PrintStream(out, true, StandardCharsets.UTF_8);
    serve.stderr = new PrintStream(err, true, StandardCharsets.UTF_8);
    cli.parseArgs(args);
    return new Run(serve, out, err);
  }

  @Test
  void flagBeatsEnvironmentBeatsFileBeatsDefault() throws Exception {
    Path file = dir.resolve("tally.properties");
    Files.writeString(file, "max-rows = 11\nmax-vocab-size = 1000\nmax-sessions = 7\n"
        + "step-deadline = 2s\nlisten = unix:/tmp/a.sock,127.0.0.1:7000\n");
    Map<String, String> env = Map.of("TALLY_MAX_ROWS", "22", "TALLY_MAX_VOCAB_SIZE", "2000",
        "TALLY_CONFIG", file.toString());
    ServerConfig c = parse(env, "--max-rows", "33").command.config();
    assertThat(c.maxRows()).isEqualTo(33); // flag
    assertThat(c.maxVocabSize()).isEqualTo(2000); // environment
    assertThat(c.maxSessions()).isEqualTo(7); // file
    assertThat(c.stepDeadline()).isEqualTo(Duration.ofSeconds(2)); // file
    assertThat(c.listeners()).hasToString("[unix:/tmp/a.sock, 127.0.0.1:7000]");
    assertThat(c.maxTopLogprobs()).isEqualTo(ServerConfig.defaults().maxTopLogprobs()); // default
    // --config on the command line wins over TALLY_CONFIG
    Path other = dir.resolve("other.properties");
    Files.writeString(other, "max-sessions = 9\n");
    assertThat(parse(env, "--config", other.toString()).command.config().maxSessions())
        .isEqualTo(9);
  }

  @Test
  void printConfigShowsEachValueAndItsSource() throws Exception {
    Path file = dir.resolve("tally.properties");
    Files.writeString(file, "max-sessions = 7\n");
    Run run = parse(Map.of("TALLY_MAX_ROWS", "22"), "--config", file.toString(),
        "--max-vocab-size", "99", "--print-config");
    assertThat(run.command.call()).isZero();
    String text = run.out.toString(StandardCharsets.UTF_8);
    assertThat(text).contains(
        "max-rows = 22  # env TALLY_MAX_ROWS\n",
        "max-vocab-size = 99  # flag\n",
        "max-sessions = 7  # file " + file + "\n",
        "socket-mode = 0660  # default\n",
        "listen =   # default\n");
  }

  @Test
  void everyProblemIsListedAtOnceNamingItsOption() throws Exception {
    Path file = dir.resolve("tally.properties");
    Files.writeString(file, "max-rowz = 3\n");
    Run run = parse(Map.of("TALLY_MAX_SESSIONS", "0"), "--config", file.toString(),
        "--listen", "nowhere", "--socket-mode", "9z", "--tls-key", dir.resolve("k.pem").toString(),
        "--log-format", "xml", "--max-rows", "0", "--listen", "10.1.2.3:50051");
    assertThat(run.command.call()).isEqualTo(2);
    assertThat(run.err.toString(StandardCharsets.UTF_8)).isEqualTo(
        "tally serve: invalid configuration:\n"
        + "  - " + file + ": 'max-rowz' is not an option of tally serve\n"
        + "  - --listen: 'nowhere' is not a listen address; use HOST:PORT or unix:PATH\n"
        + "  - --max-sessions must be positive, got 0\n"
        + "  - --max-rows must be positive, got 0\n"
        + "  - --socket-mode: '9z' is not an octal mode such as 0660\n"
        + "  - --tls-cert is required with --tls-key or --tls-client-ca\n"
        + "  - --tls-key: cannot read " + dir.resolve("k.pem") + "\n"
        + "  - --log-format must be 'text' or 'json', got 'xml'\n"
        + "  - --listen 10.1.2.3:50051 is not a loopback address: serve it with TLS (--tls-cert,"
        + " --tls-key) or allow plaintext with --insecure\n");
  }

  @Test
  void plaintextOnTheNetworkNeedsInsecure() throws Exception {
    Run refused = parse(Map.of(), "--listen", "0.0.0.0:50051");
    assertThat(refused.command.call()).isEqualTo(2);
    assertThat(refused.err.toString(StandardCharsets.UTF_8)).isEqualTo(
        "tally serve: invalid configuration:\n  - --listen 0.0.0.0:50051 is not a loopback"
        + " address: serve it with TLS (--tls-cert, --tls-key) or allow plaintext with"
        + " --insecure\n");
    assertThat(parse(Map.of(), "--listen", "0.0.0.0:50051", "--insecure").command.config()
        .insecure()).isTrue();
    assertThat(parse(Map.of("TALLY_INSECURE", "true"), "--listen", "0.0.0.0:50051")
        .command.config().insecure()).isTrue();
  }

  @Test
  void connectionLimitsFromFlagsEnvironmentAndFile() throws Exception {
    Path file = dir.resolve("tally.properties");
    Files.writeString(file, "max-connection-idle = 10m\nrst-window = 1m\n");
    Map<String, String> env = Map.of("TALLY_MAX_RST_FRAMES", "50",
        "TALLY_PERMIT_KEEPALIVE_WITHOUT_CALLS", "true");
    Run run = parse(env, "--config", file.toString(), "--max-concurrent-streams", "64",
        "--max-header-list-bytes", "8192", "--permit-keepalive-time", "30s",
        "--keepalive-time", "2m", "--keepalive-timeout", "5s");
    ConnectionLimits limits = run.command.config().connectionLimits();
    assertThat(limits).isEqualTo(new ConnectionLimits(64, 50, Duration.ofMinutes(1), 8192,
        Duration.ofSeconds(30), true, Duration.ofMinutes(10), Duration.ofMinutes(2),
        Duration.ofSeconds(5)));
    assertThat(parse(Map.of()).command.config().connectionLimits())
        .isEqualTo(ConnectionLimits.defaults());
    assertThat(ConnectionLimits.defaults().maxConcurrentStreams())
        .as("one connection can hold every session").isGreaterThan(ServerConfig.DEFAULT_MAX_SESSIONS);

    Run printed = parse(env, "--config", file.toString(), "--print-config");
    assertThat(printed.command.call()).isZero();
    assertThat(printed.out.toString(StandardCharsets.UTF_8)).contains(
        "max-concurrent-streams = 2048  # default\n",
        "max-rst-frames = 50  # env TALLY_MAX_RST_FRAMES\n",
        "rst-window = 60s  # file " + file + "\n",
        "max-header-list-bytes = 16384  # default\n",
        "permit-keepalive-time = 60s  # default\n",
        "permit-keepalive-without-calls = true  # env TALLY_PERMIT_KEEPALIVE_WITHOUT_CALLS\n",
        "max-connection-idle = 600s  # file " + file + "\n",
        "keepalive-time = 300s  # default\n",
        "keepalive-timeout = 20s  # default\n");

    Run bad = parse(Map.of(), "--max-concurrent-streams", "0", "--max-rst-frames", "0",
        "--rst-window", "1500ms", "--max-header-list-bytes", "100",
        "--permit-keepalive-time", "100ms");
    assertThat(bad.command.call()).isEqualTo(2);
    assertThat(bad.err.toString(StandardCharsets.UTF_8)).isEqualTo(
        "tally serve: invalid configuration:\n"
        + "  - --max-concurrent-streams must be positive, got 0\n"
        + "  - --max-rst-frames must be positive, got 0\n"
        + "  - --rst-window must be whole seconds, got 1500ms\n"
        + "  - --max-header-list-bytes must be at least 1024, got 100\n"
        + "  - --permit-keepalive-time must be at least 1s, got 100ms\n");
  }

  @Test
  void socketModesInOctal() {
    assertThat(ServeCommand.socketMode("0660"))
        .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw----"));
    assertThat(ServeCommand.socketMode("600"))
        .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
  }
}
