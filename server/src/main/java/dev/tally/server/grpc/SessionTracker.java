package dev.tally.server.grpc;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The open {@code Session} streams: counted against {@code max_sessions} and for {@code
 * GetServerInfo}, drained on shutdown.
 *
 * <p>A new stream first {@linkplain #reserve reserves} a slot, atomically: checking the count and
 * adding the stream later would let streams that open at the same moment all pass the check and
 * exceed the limit. The slot is given back when the stream {@linkplain #closed closes}.
 */
public final class SessionTracker {
  private final Set<SessionCall> open = ConcurrentHashMap.newKeySet();
  // Slots taken: open streams plus those reserved and not yet opened.
  private final AtomicInteger slots = new AtomicInteger();
  private volatile boolean draining;

  /** Takes a slot if fewer than {@code max} are taken; false (nothing taken) otherwise. */
  boolean reserve(int max) {
    while (true) {
      int taken = slots.get();
      if (taken >= max) {
        return false;
      }
      if (slots.compareAndSet(taken, taken + 1)) {
        return true;
      }
    }
  }

  /** Gives back a slot reserved for a stream that never opened. */
  void unreserve() {
    slots.decrementAndGet();
  }

  /** A stream opened on a slot it reserved. */
  void opened(SessionCall call) {
    open.add(call);
    if (draining) {
      call.drain();
    }
  }

  /** A stream closed (safe to call again): its slot is free. */
  void closed(SessionCall call) {
    if (open.remove(call)) {
      slots.decrementAndGet();
    }
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
