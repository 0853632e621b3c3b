package dev.tally.server.metrics;

import java.util.function.IntSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Session's counters and its two log lines (opened, closed: peer, steps, rows, errors,
 * duration). Never logs logits or token ids.
 */
public final class SessionStats {
  private static final Logger log = LoggerFactory.getLogger("dev.tally.server.session");

  private final TallyMetrics metrics;
  private final String peer;
  private final IntSupplier sequences;
  private final long openedNanos = System.nanoTime();
  private long steps;
  private long rows;
  private long errors;
  private int lastSequences;
  private boolean closed;

  SessionStats(TallyMetrics metrics, String peer, IntSupplier sequences) {
    this.metrics = metrics;
    this.peer = peer;
    this.sequences = sequences;
    log.info("session opened: peer={}", peer);
  }

  /** A step answered (rows may be 0). */
  public synchronized void step(int rowCount, long logitsBytes, long decodeNanos, long queueNanos,
      long sampleNanos) {
    steps++;
    rows += rowCount;
    metrics.step("session", rowCount, logitsBytes, decodeNanos, queueNanos, sampleNanos);
    track();
  }

  /**
   * A sampled step: counts it, and counts as errors a whole-step error or each failed row of the
   * response.
   */
  public synchronized void step(dev.tally.api.v1.SessionResponse.Builder response, int rowCount,
      long logitsBytes, long decodeNanos, long queueNanos, long sampleNanos) {
    step(rowCount, logitsBytes, decodeNanos, queueNanos, sampleNanos);
    if (response.hasError()) {
      error(response.getError());
    }
    for (dev.tally.api.v1.TokenChoice c : response.getChoicesList()) {
      if (c.hasError()) {
        error(c.getError());
      }
    }
  }

  private void error(com.google.rpc.Status status) {
    String code = "UNKNOWN";
    for (com.google.protobuf.Any any : status.getDetailsList()) {
      if (any.is(com.google.rpc.ErrorInfo.class)) {
        try {
          code = any.unpack(com.google.rpc.ErrorInfo.class).getReason();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          // keep UNKNOWN
        }
      }
    }
    error(io.grpc.Status.fromCodeValue(status.getCode()).getCode().name(), code);
  }

  /** A step answered with a Tally error. */
  public synchronized void error(dev.tally.core.error.TallyException e) {
    error(e.code().canonical().name(), e.code().name());
  }

  /** A step (or row) answered with an error. */
  public synchronized void error(String status, String tallyCode) {
    errors++;
    metrics.error(status, tallyCode);
    track();
  }

  private void track() {
    int now = sequences.getAsInt();
    metrics.sequencesChanged(now - lastSequences);
    lastSequences = now;
  }

  /** The session ended ({@code how}: completed, cancelled, shutdown); safe to call again. */
  public synchronized void closed(String how) {
    if (closed) {
      return;
    }
    closed = true;
    metrics.sequencesChanged(-lastSequences);
    lastSequences = 0;
    metrics.sessionClosed();
    log.info("session closed: peer={} steps={} rows={} errors={} duration_ms={} end={}", peer,
        steps, rows, errors, (System.nanoTime() - openedNanos) / 1_000_000, how);
  }
}
