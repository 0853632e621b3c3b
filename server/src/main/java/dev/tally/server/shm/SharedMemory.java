package dev.tally.server.shm;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server's shared memory: opens and maps the objects clients register, holds every owner to
 * the limits, and counts what is mapped. Owners ({@link RegionTable}s) are a connection's
 * (unary registrations) or a session's (in-band ones); each frees its regions when it closes.
 */
@Singleton
public final class SharedMemory {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");
  private static final Pattern SHM_KEY = Pattern.compile("/([A-Za-z0-9._-]{1,255})");
  private static final Pattern MEMFD_KEY = Pattern.compile("/proc/([0-9]{1,10})/fd/([0-9]{1,10})");

  private final SharedMemoryConfig config;
  private final AtomicInteger regions = new AtomicInteger();
  private final AtomicLong bytesMapped = new AtomicLong();

  @Inject
  public SharedMemory(SharedMemoryConfig config) {
    this.config = config;
  }

  public SharedMemoryConfig config() {
    return config;
  }

  /** Null when this JVM can map shared memory, else why not. */
  public String unsupportedReason() {
    return FileMappings.unsupportedReason();
  }

  /** Regions mapped right now, all owners. */
  public int regions() {
    return regions.get();
  }

  /** Bytes mapped right now, all owners. */
  public long bytesMapped() {
    return bytesMapped.get();
  }

  /** A new owner; {@code refusal} (or null) is why it may not use shared memory at all. */
  public RegionTable newTable(String refusal) {
    return new RegionTable(this, refusal);
  }

  /**
   * Opens, checks and maps {@code key} for {@code byteSize} bytes.
   *
   * @param field the request field being served, for errors ({@code register_shared_memory[0]})
   */
  Region open(String name, String key, long byteSize, String field) {
    String unsupported = unsupportedReason();
    if (unsupported != null) {
      throw new TallyException(ErrorCode.SHARED_MEMORY_UNAVAILABLE, field, unsupported);
    }
    if (!NAME.matcher(name).matches()) {
      throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "name"),
          at(field, "name") + " must be 1-128 characters of [A-Za-z0-9._-], got \"" + name + "\"");
    }
    if (byteSize <= 0) {
      throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "byte_size"),
          at(field, "byte_size") + " must be positive, got " + Long.toUnsignedString(byteSize));
    }
    Path path = path(key, field);
    FileChannel channel;
    try {
      // A memfd is reached through its /proc link; a named object must be the file itself.
      channel = MEMFD_KEY.matcher(key).matches()
          ? FileChannel.open(path, StandardOpenOption.READ)
          : FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw unavailable(field, key, path, "no such object");
    } catch (AccessDeniedException e) {
      throw unavailable(field, key, path, "permission denied");
    } catch (IOException e) {
      throw unavailable(field, key, path, e.toString());
    }
    try {
      long size = channel.size();
      if (size < byteSize) {
        throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "byte_size"),
          at(field, "byte_size") + " is " + Long.toUnsignedString(byteSize) + " but " + key + " holds only "
            + size + " bytes");
      }
      reserve(byteSize, field);
      try {
        FileMappings.Mapping mapping = FileMappings.map(channel, byteSize);
        return new Region(name, key, byteSize, channel, mapping, () -> unreserve(byteSize));
      } catch (IOException | RuntimeException e) {
        unreserve(byteSize);
        throw unavailable(field, key, path, "cannot map it: " + e);
      }
    } catch (IOException | RuntimeException e) {
      closeQuietly(channel);
      if (e instanceof TallyException t) {
        throw t;
      }
      throw unavailable(field, key, path, e.toString());
    }
  }

  private Path path(String key, String field) {
    Matcher memfd = MEMFD_KEY.matcher(key);
    if (memfd.matches()) {
      Path path = Path.of(key);
      // Only a memfd: any other /proc/PID/fd entry could be a file the client may not name.
      String target;
      try {
        target = Files.readSymbolicLink(path).toString();
      } catch (IOException e) {
        throw unavailable(field, key, path, "no such process or descriptor (" + e + ")");
      }
      if (!target.startsWith("/memfd:")) {
        throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "key"), at(field, "key") + " "
            + key + " is not a memfd (it is " + target + ")");
      }
      return path;
    }
    Matcher shm = SHM_KEY.matcher(key);
    if (!shm.matches() || shm.group(1).equals(".") || shm.group(1).equals("..")) {
      throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, at(field, "key"),
          at(field, "key") + " must be a shared-memory name (\"/\" and 1-255 of [A-Za-z0-9._-]) or"
          + " /proc/PID/fd/FD of a memfd, got \"" + key + "\"");
    }
    return config.directory().resolve(shm.group(1));
  }

  private void reserve(long byteSize, String field) {
    while (true) {
      long now = bytesMapped.get();
      if (now > config.maxBytesMapped() - byteSize) {
        throw new TallyException(ErrorCode.LIMIT_EXCEEDED, at(field, "byte_size"), "mapping "
            + byteSize + " more bytes would pass this server's limit (max_shared_memory_bytes) of "
            + config.maxBytesMapped() + "; " + now + " are mapped");
      }
      if (bytesMapped.compareAndSet(now, now + byteSize)) {
        regions.incrementAndGet();
        return;
      }
    }
  }

  private void unreserve(long byteSize) {
    bytesMapped.addAndGet(-byteSize);
    regions.decrementAndGet();
  }

  private static TallyException unavailable(String field, String key, Path path, String why) {
    return new TallyException(ErrorCode.SHARED_MEMORY_UNAVAILABLE, at(field, "key"), "cannot open "
        + key + " (" + path + "): " + why + "; the server must see the client's shared memory"
        + " (same host, a shared /dev/shm in containers)");
  }

  /** {@code field.part}, or {@code part} alone for a request's own field ({@code field} empty). */
  static String at(String field, String part) {
    return field.isEmpty() ? part : field + "." + part;
  }

  private static void closeQuietly(FileChannel c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // nothing was mapped from it
    }
  }
}
