package dev.tally.server.grpc;

import dev.tally.server.metrics.PeerInterceptor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs malformed requests: a client's bug, or not a Tally client at all, so one WARN line naming
 * the peer, never a stack trace, and at most one line a minute, so that a client on the socket
 * cannot fill the log. The next line says how many were left out.
 */
final class MalformedLog {
  private static final Logger log = LoggerFactory.getLogger(MalformedLog.class);
  static final long INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);

  private final LongSupplier nanoClock;
  private boolean logged; // guarded by this
  private long lastLine;
  private long leftOut;

  MalformedLog(LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
  }

  /** Records one malformed request to {@code method}; true when it was logged. */
  synchronized boolean malformed(String method, long size, String why) {
    long now = nanoClock.getAsLong();
    if (logged && now - lastLine < INTERVAL_NANOS) {
      leftOut++;
      return false;
    }
    String more = leftOut == 0 ? "" : " (" + leftOut + " more since the last line)";
    log.warn("malformed request from {} to {} ({} bytes), answered INVALID_ARGUMENT: {}{}",
        PeerInterceptor.current(), method, size, why, more);
    logged = true;
    lastLine = now;
    leftOut = 0;
    return true;
  }
}
