package dev.tally.server.shm;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import static dev.tally.server.shm.SharedMemory.at;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One owner's regions, by name: a connection's or a session's. Closing the table drops them all
 * (each is unmapped once no step holds it).
 */
public final class RegionTable implements AutoCloseable {
  private final SharedMemory memory;
  private final String refusal;
  private final Map<String, Region> regions = new LinkedHashMap<>(); // guarded by this
  private boolean closed;

  RegionTable(SharedMemory memory, String refusal) {
    this.memory = memory;
    this.refusal = refusal;
  }

  /** Null when this owner may use shared memory, else why not. */
  public String unavailableReason() {
    return refusal != null ? refusal : memory.unsupportedReason();
  }

  /** Registers and maps a region; {@code field} names the request part, for errors. */
  public Registered register(String name, String key, long byteSize, String field) {
    if (refusal != null) {
      throw new TallyException(ErrorCode.SHARED_MEMORY_UNAVAILABLE, field, refusal);
    }
    synchronized (this) {
      pruneLocked();
      if (closed) {
        throw new TallyException(ErrorCode.SHARED_MEMORY_UNAVAILABLE, field,
            "the owner of this region is closing");
      }
      if (regions.containsKey(name)) {
        throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "name"),
          at(field, "name") + ": a region named " + name + " is already registered here");
      }
      if (regions.size() >= memory.config().maxRegionsPerOwner()) {
        throw new TallyException(ErrorCode.LIMIT_EXCEEDED, field, regions.size()
            + " regions are registered here; this server's limit (max_shared_memory_regions) is "
            + memory.config().maxRegionsPerOwner());
      }
    }
    // Opened outside the lock (file system calls); the name is checked again below.
    Region region = memory.open(name, key, byteSize, field);
    synchronized (this) {
      if (closed || regions.containsKey(name)) {
        region.drop();
        throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "name"),
          at(field, "name") + ": a region named " + name + " is already registered here");
      }
      regions.put(name, region);
    }
    return new Registered(name, key, byteSize);
  }

  /** Unregisters {@code name}; steps in flight keep it mapped until they are answered. */
  public void unregister(String name, String field) {
    Region region;
    synchronized (this) {
      pruneLocked();
      region = regions.remove(name);
    }
    if (region == null) {
      throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, field, field + ": no region named "
          + name + " is registered here");
    }
    region.drop();
  }

  /** The live region {@code name}, or null. */
  synchronized Region find(String name) {
    Region r = regions.get(name);
    if (r != null && r.dropped()) { // found shrunk by a step
      regions.remove(name);
      return null;
    }
    return r;
  }

  /**
   * Leases bytes of region {@code name} for one step, looking in this table, then in {@code
   * fallback} (a session falls back to its connection's regions; may be null).
   */
  public static Lease lease(RegionTable table, RegionTable fallback, String name, long offset,
      long size, String field) {
    String refusal = table.unavailableReason();
    if (refusal != null) {
      throw new TallyException(ErrorCode.SHARED_MEMORY_UNAVAILABLE, field, refusal);
    }
    Region region = table.find(name);
    if (region == null && fallback != null) {
      region = fallback.find(name);
    }
    if (region == null) {
      throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "region"),
          at(field, "region") + ": no region named \"" + name + "\" is registered on this connection or session");
    }
    return region.lease(offset, size, field);
  }

  /** This owner's regions, in registration order. */
  public synchronized List<Registered> list() {
    pruneLocked();
    List<Registered> out = new ArrayList<>(regions.size());
    for (Region r : regions.values()) {
      out.add(new Registered(r.name(), r.key(), r.byteSize()));
    }
    return out;
  }

  private void pruneLocked() {
    regions.values().removeIf(Region::dropped);
  }

  /** Drops every region; idempotent. */
  @Override
  public void close() {
    List<Region> all;
    synchronized (this) {
      closed = true;
      all = new ArrayList<>(regions.values());
      regions.clear();
    }
    all.forEach(Region::drop);
  }

  /** A region as the status reports it. */
  public record Registered(String name, String key, long byteSize) {}
}
