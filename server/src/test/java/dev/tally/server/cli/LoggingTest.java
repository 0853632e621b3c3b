package dev.tally.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import dev.tally.server.metrics.SessionStats;
import dev.tally.server.metrics.TallyMetrics;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** {@code --log-format json}, and the session's opened and closed lines. */
final class LoggingTest {
  @Test
  void jsonLinesWithTheSessionSummary() {
    PrintStream saved = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    ch.qos.logback.classic.Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      Logging.setFormat("json");
      SessionStats s = TallyMetrics.noop().session("10.0.0.7:4242", () -> 2);
      s.step(2, 32, 1_000, 500, 2_000);
      s.error("NOT_FOUND", "UNKNOWN_SEQUENCE");
      s.closed("completed");
      s.closed("completed"); // once only
    } finally {
      System.setErr(saved);
      root.detachAndStopAllAppenders();
      ConsoleAppender<ILoggingEvent> text = new ConsoleAppender<>();
      text.setContext(context);
      text.setTarget("System.err");
      text.setEncoder(Logging.text(context));
      text.start();
      root.addAppender(text);
    }
    // Only our lines: other agents in the test JVM (a fuzzer's instrumentation) may print too.
    String[] lines = err.toString(StandardCharsets.UTF_8).lines()
        .filter(l -> l.contains("dev.tally.server.session")).toArray(String[]::new);
    assertThat(lines).hasSize(2);
    assertThat(lines[0]).startsWith("{").endsWith("}")
        .contains("\"level\":\"INFO\"", "\"loggerName\":\"dev.tally.server.session\"",
            "\"formattedMessage\":\"session opened: peer=10.0.0.7:4242\"");
    assertThat(lines[1]).contains("\"formattedMessage\":\"session closed: peer=10.0.0.7:4242 steps=1"
        + " rows=2 errors=1 duration_ms=");
    assertThat(lines[1]).contains("end=completed\"");
  }
}
