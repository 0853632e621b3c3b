package dev.tally.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.Security;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/** {@code --metrics-listen} follows the gRPC listeners' rule: loopback, or {@code --insecure}. */
final class MetricsBindRuleTest {
  private static final String REFUSAL = "--metrics-listen 0.0.0.0:9464 is not a loopback address:"
      + " the metrics endpoint is plain HTTP; allow it with --insecure";

  private static ServeCommand parse(Map<String, String> env, ByteArrayOutputStream err,
      String... args) throws Exception {
    ConfigDefaults defaults = new ConfigDefaults(env, null);
    ServeCommand serve = new ServeCommand();
    CommandLine cli = new CommandLine(serve);
    cli.setDefaultValueProvider(defaults);
    serve.defaults = defaults;
    serve.env = env;
    serve.stderr = new PrintStream(err, true, StandardCharsets.UTF_8);
    cli.parseArgs(args);
    return serve;
  }

  @Test
  void aNonLoopbackMetricsAddressIsRefusedWithoutInsecure() throws Exception {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertThat(parse(Map.of(), err, "--metrics-listen", "0.0.0.0:9464").call()).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .isEqualTo("tally serve: invalid configuration:\n  - " + REFUSAL + "\n");
    // Allowed with --insecure, as a flag or from the environment; loopback needs nothing.
    assertThat(parse(Map.of(), err, "--metrics-listen", "0.0.0.0:9464", "--insecure").config()
        .insecure()).isTrue();
    assertThat(parse(Map.of("TALLY_INSECURE", "true"), err, "--metrics-listen", "0.0.0.0:9464")
        .config().insecure()).isTrue();
    assertThat(parse(Map.of(), err, "--metrics-listen", "127.0.0.1:9464").config().insecure())
        .isFalse();
  }

  @Test
  void theEndpointCheckRefusesOrWarns() {
    Logger log = (Logger) LoggerFactory.getLogger("test.metrics-bind");
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    log.addAppender(logged);
    try {
      ListenAddress network = ListenAddress.parse("0.0.0.0:9464");
      assertThatThrownBy(() -> Security.checkMetricsListener(network, false, log))
          .isInstanceOf(IllegalArgumentException.class).hasMessage(REFUSAL);
      Security.checkMetricsListener(ListenAddress.parse("127.0.0.1:9464"), false, log);
      Security.checkMetricsListener(ListenAddress.parse("localhost:9464"), true, log);
      assertThat(logged.list).isEmpty();
      Security.checkMetricsListener(network, true, log);
      assertThat(logged.list).extracting(e -> e.getLevel() + " " + e.getFormattedMessage())
          .isEqualTo(List.of("WARN --insecure: the metrics endpoint 0.0.0.0:9464 serves plain"
              + " HTTP to the network"));
    } finally {
      log.detachAppender(logged);
    }
  }
}
