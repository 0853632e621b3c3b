package dev.tally.server.shm;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Read-only file mappings as {@code MemorySegment}s in a shared {@code Arena} (JDK 22+), unmapped
 * the moment they are closed.
 *
 * <p>Tally compiles for release 17, where {@code java.lang.foreign} does not exist yet, so the
 * four calls it needs are bound by name once, here; on an older JVM {@link #unsupportedReason()}
 * says why there is no shared memory. Only registration and each step's slice go through these
 * handles: the rows themselves are read through the slice's {@link ByteBuffer}, whose bulk reads
 * are the JVM's copy stubs, where a fault on a truncated file becomes an {@link InternalError}
 * instead of a crash (never a Vector API load over the mapping: that one kills the JVM).
 */
final class FileMappings {
  private static final Handles HANDLES = Handles.bind();

  private FileMappings() {}

  /** Null when mappings are supported, else why not. */
  static String unsupportedReason() {
    return HANDLES.unsupported;
  }

  /** Maps bytes [0, size) of {@code channel} read-only; close the mapping to unmap it. */
  static Mapping map(FileChannel channel, long size) throws java.io.IOException {
    Handles h = requireSupported();
    AutoCloseable arena;
    try {
      arena = (AutoCloseable) h.ofShared.invokeExact();
    } catch (Throwable t) {
      throw new IllegalStateException("Arena.ofShared() failed", t);
    }
    try {
      Object segment = h.map.invokeExact(channel, FileChannel.MapMode.READ_ONLY, 0L, size, arena);
      return new Mapping(arena, segment);
    } catch (java.io.IOException | RuntimeException | Error e) {
      closeQuietly(arena);
      throw e;
    } catch (Throwable t) {
      closeQuietly(arena);
      throw new IllegalStateException(t);
    }
  }

  private static Handles requireSupported() {
    if (HANDLES.unsupported != null) {
      throw new IllegalStateException(HANDLES.unsupported);
    }
    return HANDLES;
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception ignored) {
      // already failing; the first error is the one to report
    }
  }

  /** One mapping: a segment and the arena that unmaps it. */
  static final class Mapping implements AutoCloseable {
    private final AutoCloseable arena;
    private final Object segment;

    private Mapping(AutoCloseable arena, Object segment) {
      this.arena = arena;
      this.segment = segment;
    }

    /**
     * Bytes [offset, offset + size) as a read-only buffer; reads after {@link #close()} throw
     * {@link IllegalStateException}, they never touch unmapped memory.
     */
    ByteBuffer slice(long offset, long size) {
      try {
        Object slice = HANDLES.asSlice.invokeExact(segment, offset, size);
        return (ByteBuffer) HANDLES.asByteBuffer.invokeExact(slice);
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException(t);
      }
    }

    /** Unmaps (waits for threads in the middle of a read; later reads fail). */
    @Override
    public void close() {
      try {
        arena.close();
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private static final class Handles {
    final MethodHandle ofShared; // () -> Arena, as () -> AutoCloseable
    final MethodHandle map; // (FileChannel, MapMode, long, long, Arena) -> MemorySegment
    final MethodHandle asSlice; // (MemorySegment, long, long) -> MemorySegment
    final MethodHandle asByteBuffer; // (MemorySegment) -> ByteBuffer
    final String unsupported;

    private Handles(MethodHandle ofShared, MethodHandle map, MethodHandle asSlice,
        MethodHandle asByteBuffer, String unsupported) {
      this.ofShared = ofShared;
      this.map = map;
      this.asSlice = asSlice;
      this.asByteBuffer = asByteBuffer;
      this.unsupported = unsupported;
    }

    static Handles bind() {
      int feature = Runtime.version().feature();
      if (feature < 22) {
        return new Handles(null, null, null, null, "shared memory needs a JVM of version 22 or"
            + " newer (FileChannel.map into a MemorySegment); this server runs on " + feature);
      }
      try {
        MethodHandles.Lookup lookup = MethodHandles.publicLookup();
        Class<?> arena = Class.forName("java.lang.foreign.Arena");
        Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
        MethodHandle ofShared = lookup.findStatic(arena, "ofShared", MethodType.methodType(arena))
            .asType(MethodType.methodType(AutoCloseable.class));
        MethodHandle map = lookup.findVirtual(FileChannel.class, "map", MethodType.methodType(
                segment, FileChannel.MapMode.class, long.class, long.class, arena))
            .asType(MethodType.methodType(Object.class, FileChannel.class,
                FileChannel.MapMode.class, long.class, long.class, AutoCloseable.class));
        MethodHandle asSlice = lookup.findVirtual(segment, "asSlice",
                MethodType.methodType(segment, long.class, long.class))
            .asType(MethodType.methodType(Object.class, Object.class, long.class, long.class));
        MethodHandle asByteBuffer = lookup.findVirtual(segment, "asByteBuffer",
                MethodType.methodType(ByteBuffer.class))
            .asType(MethodType.methodType(ByteBuffer.class, Object.class));
        return new Handles(ofShared, map, asSlice, asByteBuffer, null);
      } catch (ReflectiveOperationException e) {
        return new Handles(null, null, null, null, "shared memory is unavailable on this JVM: " + e);
      }
    }
  }
}
