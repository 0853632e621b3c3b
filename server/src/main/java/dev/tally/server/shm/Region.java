package dev.tally.server.shm;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import static dev.tally.server.shm.SharedMemory.at;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One registered shared-memory object, mapped read-only. It is unmapped when it has been dropped
 * (unregistered, its owner gone, or found shrunk) and no step holds a {@link Lease} on it any
 * more, so a step never reads unmapped memory.
 */
final class Region {
  private static final Logger log = LoggerFactory.getLogger(Region.class);

  private final String name;
  private final String key;
  private final long byteSize;
  private final FileChannel channel; // kept open: each step checks the object's size (fstat)
  private final FileMappings.Mapping mapping;
  private final Runnable onUnmapped;

  // Guarded by this.
  private final List<Lease> leases = new ArrayList<>();
  private boolean dropped;
  private boolean unmapped;

  Region(String name, String key, long byteSize, FileChannel channel,
      FileMappings.Mapping mapping, Runnable onUnmapped) {
    this.name = name;
    this.key = key;
    this.byteSize = byteSize;
    this.channel = channel;
    this.mapping = mapping;
    this.onUnmapped = onUnmapped;
  }

  String name() {
    return name;
  }

  String key() {
    return key;
  }

  long byteSize() {
    return byteSize;
  }

  /**
   * Leases bytes [offset, offset + size) for one step.
   *
   * @throws TallyException {@code INVALID_SHARED_MEMORY} for bytes out of bounds or in use by a
   *     step in flight, {@code REGION_UNAVAILABLE} when the object has shrunk (the region is
   *     dropped)
   */
  Lease lease(long offset, long size, String field) {
    if (offset < 0 || size < 0 || offset > byteSize || size > byteSize - offset) {
      throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "offset"),
          field + ": bytes [" + Long.toUnsignedString(offset) + ", +"
              + Long.toUnsignedString(size) + ") are outside region " + name + " of "
              + byteSize + " bytes");
    }
    long actual = currentSize();
    if (actual < byteSize) {
      throw lost(new IOException("the object shrank"));
    }
    synchronized (this) {
      if (dropped) {
        throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "region"),
            at(field, "region") + ": region " + name + " is being unregistered");
      }
      for (Lease l : leases) {
        if (offset < l.offset() + l.size() && l.offset() < offset + size) {
          throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "offset"),
              field + ": bytes [" + offset + ", " + (offset + size) + ") of region " + name
                  + " overlap bytes [" + l.offset() + ", " + (l.offset() + l.size())
                  + ") of a step still in flight; reuse a slot only after its step's response");
        }
      }
      Lease lease = new Lease(this, offset, size, mapping.slice(offset, size));
      leases.add(lease);
      return lease;
    }
  }

  private long currentSize() {
    try {
      return channel.size();
    } catch (IOException e) {
      return -1;
    }
  }

  /** The object shrank or faulted under a step: drop the region and say so. */
  TallyException lost(Throwable cause) {
    long actual = currentSize();
    log.warn("shared-memory region {} ({}) became unreadable ({}; the object is now {} bytes,"
        + " registered with {}): dropped", name, key, cause, actual, byteSize);
    drop();
    return new TallyException(ErrorCode.REGION_UNAVAILABLE, "logits.shared_memory.region",
        "shared-memory region " + name + " (" + key + ") became unreadable: the object is now "
            + (actual < 0 ? "gone" : actual + " bytes") + ", registered with " + byteSize
            + "; the region is dropped: register a fresh one", null);
  }

  void release(Lease lease) {
    boolean unmap;
    synchronized (this) {
      leases.remove(lease);
      unmap = dropped && leases.isEmpty() && !unmapped;
      unmapped |= unmap;
    }
    if (unmap) {
      unmap();
    }
  }

  /** Unregistered or its owner is gone: unmapped now, or when the last step lets go. */
  void drop() {
    boolean unmap;
    synchronized (this) {
      if (dropped) {
        return;
      }
      dropped = true;
      unmap = leases.isEmpty();
      unmapped |= unmap;
    }
    if (unmap) {
      unmap();
    }
  }

  synchronized boolean dropped() {
    return dropped;
  }

  private void unmap() {
    try {
      mapping.close();
    } catch (RuntimeException e) {
      log.warn("unmapping shared-memory region {} failed: {}", name, e.toString());
    }
    try {
      channel.close();
    } catch (IOException e) {
      log.debug("closing {} failed: {}", key, e.toString());
    }
    onUnmapped.run();
  }
}
