package dev.tally.server.loadgen;

import dev.tally.api.v1.Logits;
import dev.tally.api.v1.RegisterSharedMemoryRequest;
import dev.tally.api.v1.SharedMemoryRef;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A bench session's shared-memory region: two slots in a {@code /dev/shm} object, written as a
 * model server would write each step's logits, and referenced by the step.
 */
final class SharedSlots {
  private final String name;
  private final Path path;
  private final long slotBytes;
  private final MappedByteBuffer map;

  private SharedSlots(String name, Path path, long slotBytes, MappedByteBuffer map) {
    this.name = name;
    this.path = path;
    this.slotBytes = slotBytes;
    this.map = map;
  }

  static SharedSlots create(long slotBytes, int session) {
    String name = "tally-bench-" + ProcessHandle.current().pid() + "-" + session;
    Path path = Path.of("/dev/shm", name);
    long size = 2 * slotBytes;
    if (size > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("--shared-memory: two slots of " + slotBytes
          + " bytes do not fit one mapping of this client");
    }
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      channel.truncate(size);
      channel.write(java.nio.ByteBuffer.allocate(1), size - 1);
      return new SharedSlots(name, path, slotBytes,
          channel.map(FileChannel.MapMode.READ_WRITE, 0, size));
    } catch (IOException e) {
      throw new UncheckedIOException("--shared-memory: cannot create " + path, e);
    }
  }

  RegisterSharedMemoryRequest registration() {
    return RegisterSharedMemoryRequest.newBuilder().setName(name).setKey("/" + name)
        .setByteSize(2 * slotBytes).build();
  }

  /** Copies {@code tensor}'s bytes into slot {@code slot} and returns the reference to them. */
  Logits write(int slot, Logits tensor) {
    long offset = slot * slotBytes;
    tensor.getData().copyTo(map.slice((int) offset, (int) slotBytes));
    return tensor.toBuilder().setSharedMemory(SharedMemoryRef.newBuilder().setRegion(name)
        .setOffset(offset).setByteSize(slotBytes)).build();
  }

  void unlink() {
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
