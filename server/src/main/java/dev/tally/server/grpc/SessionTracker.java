package dev.tally.server.grpc;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The open {@code Session} streams: counted for {@code GetServerInfo}, drained on shutdown. */
public final class SessionTracker {
  private final Set<SessionCall> open = ConcurrentHashMap.newKeySet();
  private volatile boolean draining;

  void opened(SessionCall call) {
    open.add(call);
    if (draining) {
      call.drain();
    }
  }

  void closed(SessionCall call) {
    open.remove(call);
  }

  /** Number of open sessions. */
  public int size() {
    return open.size();
  }

  /**
   * Asks every session to end: each finishes the step it is sampling, answers it, then closes its
   * stream with {@code UNAVAILABLE}. New sessions are closed as they open.
   */
  public void drainAll() {
    draining = true;
    for (SessionCall call : open) {
      call.drain();
    }
  }
}
