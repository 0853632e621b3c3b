package dev.tally.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

final class MalformedLogTest {
  @Test
  void logsOneLineAMinuteAndCountsWhatItLeftOut() {
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    Logger logger = (Logger) LoggerFactory.getLogger(MalformedLog.class);
    logger.addAppender(lines);
    try {
      long[] now = {5_000};
      MalformedLog log = new MalformedLog(() -> now[0]);
      assertThat(log.malformed("tally.v1.Sampler/Sample", 12, "bad varint")).isTrue();
      for (int i = 0; i < 40; i++) {
        now[0] += TimeUnit.SECONDS.toNanos(1);
        assertThat(log.malformed("tally.v1.Sampler/Sample", 12, "bad varint")).isFalse();
      }
      now[0] += TimeUnit.SECONDS.toNanos(19); // 59 s after the first line: still quiet
      assertThat(log.malformed("tally.v1.Sampler/Session", 3, "truncated")).isFalse();
      now[0] += TimeUnit.SECONDS.toNanos(1);
      assertThat(log.malformed("tally.v1.Sampler/Session", 3, "truncated")).isTrue();
      assertThat(lines.list).extracting(ILoggingEvent::getFormattedMessage).containsExactly(
          "malformed request from unknown to tally.v1.Sampler/Sample (12 bytes), answered"
              + " INVALID_ARGUMENT: bad varint",
          "malformed request from unknown to tally.v1.Sampler/Session (3 bytes), answered"
              + " INVALID_ARGUMENT: truncated (41 more since the last line)");
      assertThat(lines.list).allSatisfy(e -> assertThat(e.getThrowableProxy()).isNull());
    } finally {
      logger.detachAppender(lines);
    }
  }
}
