package dev.tally.server.grpc;

import com.google.protobuf.ByteOutput;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Reuses the arrays that large requests are parsed into, so a stream of 8 MiB steps does not
 * allocate (and zero) 8 MiB per step: G1 treats such arrays as humongous, and they drove most of
 * its young collections under load.
 *
 * <p>An array comes back only when its step is wholly done ({@link #giveBack}), and only if this
 * pool handed it out: a message that never went through the marshaller (an in-process call may
 * pass the client's own object) keeps its bytes. Arrays whose step failed or timed out are simply
 * left to the garbage collector.
 *
 * <p>One per server ({@link SamplerService} holds it), so two servers in one JVM never share
 * arrays.
 */
final class RequestBuffers {
  /** Smaller messages are cheap to allocate; pooling them would only hold memory. */
  static final int MIN_POOLED = 1 << 20;
  private static final int MAX_FREE = 16;

  private final ArrayDeque<byte[]> free = new ArrayDeque<>();
  // Weak keys: an array handed out and never given back (a failed step) is not kept alive here.
  private final Map<byte[], Boolean> out = Collections.synchronizedMap(new WeakHashMap<>());

  /** An array of at least {@code size} bytes (at most twice that, so big arrays are not wasted). */
  byte[] take(int size) {
    if (size < MIN_POOLED) {
      return new byte[size];
    }
    byte[] array = null;
    synchronized (free) {
      for (var it = free.iterator(); it.hasNext(); ) {
        byte[] candidate = it.next();
        if (candidate.length >= size && candidate.length / 2 < size) {
          it.remove();
          array = candidate;
          break;
        }
      }
    }
    if (array == null) {
      array = new byte[size];
    }
    out.put(array, Boolean.TRUE);
    return array;
  }

  /**
   * Returns the array under {@code data} (a view of a parsed request) to the pool. The caller
   * promises that nothing reads the request any more.
   */
  void giveBack(ByteString data) {
    if (data.size() == 0) {
      return;
    }
    byte[] array = backingArray(data);
    if (array == null || out.remove(array) == null) {
      return; // not ours, or given back already
    }
    synchronized (free) {
      if (free.size() < MAX_FREE) {
        free.push(array);
      }
    }
  }

  /** Arrays waiting for reuse (for tests). */
  int freeCount() {
    synchronized (free) {
      return free.size();
    }
  }

  /** The array a (literal or bounded) byte string wraps, or null when it wraps none. */
  private static byte[] backingArray(ByteString data) {
    byte[][] found = new byte[1][];
    try {
      UnsafeByteOperations.unsafeWriteTo(data, new ByteOutput() {
        @Override
        public void write(byte value) {}

        @Override
        public void write(byte[] value, int offset, int length) {}

        @Override
        public void writeLazy(byte[] value, int offset, int length) {
          found[0] = found[0] == null ? value : found[0];
        }

        @Override
        public void write(ByteBuffer value) {}

        @Override
        public void writeLazy(ByteBuffer value) {}
      });
    } catch (java.io.IOException e) {
      return null; // our output never throws
    }
    return found[0];
  }
}
