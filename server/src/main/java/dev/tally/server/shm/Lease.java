package dev.tally.server.shm;

import java.nio.ByteBuffer;

/**
 * One step's hold on bytes of a region: the region stays mapped, and no other step may name these
 * bytes, until {@link #release()} (when the step is answered).
 */
public final class Lease {
  private final Region region;
  private final long offset;
  private final long size;
  private final ByteBuffer bytes;
  private boolean released;

  Lease(Region region, long offset, long size, ByteBuffer bytes) {
    this.region = region;
    this.offset = offset;
    this.size = size;
    this.bytes = bytes;
  }

  /** The leased bytes, read-only. */
  public ByteBuffer bytes() {
    return bytes;
  }

  long offset() {
    return offset;
  }

  long size() {
    return size;
  }

  /** The region's name, for errors. */
  public String regionName() {
    return region.name();
  }

  /**
   * The region's object was found shrunk, or a read of it faulted: drop the region (it is
   * unmapped once no step holds it) and say so.
   */
  public dev.tally.core.error.TallyException lost(Throwable cause) {
    return region.lost(cause);
  }

  /** Gives the bytes back; idempotent. */
  public void release() {
    synchronized (this) {
      if (released) {
        return;
      }
      released = true;
    }
    region.release(this);
  }
}
