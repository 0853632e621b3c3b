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
 * A client's shared-memory region, as a model server keeps one: slots in a {@code /dev/shm}
 * object, each step's logits copied into one and referenced by the step. Used by {@code tally
 * bench --shared-memory} and the demo.
 */
public final class SharedSlots {
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

  /** Two slots of {@code slotBytes}, named after {@code tag} and this process. */
  public static SharedSlots create(long slotBytes, String tag) {
    String name = "tally-" + tag + "-" + ProcessHandle.current().pid();
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

  /** The in-band (or unary) registration of the whole object. */
  public RegisterSharedMemoryRequest registration() {
    return RegisterSharedMemoryRequest.newBuilder().setName(name).setKey("/" + name)
        .setByteSize(2 * slotBytes).build();
  }

  /** Copies {@code tensor}'s bytes into slot {@code slot} and returns the reference to them. */
  public Logits write(int slot, Logits tensor) {
    long offset = slot * slotBytes;
    int size = tensor.getData().size();
    if (size > slotBytes) {
      throw new IllegalArgumentException(size + " bytes do not fit a slot of " + slotBytes);
    }
    tensor.getData().copyTo(map.slice((int) offset, size));
    return tensor.toBuilder().setSharedMemory(SharedMemoryRef.newBuilder().setRegion(name)
        .setOffset(offset).setByteSize(size)).build();
  }

  /** Copies float32 rows into slot {@code slot}; returns the [rows × vocab] reference to them. */
  public Logits writeFloats(int slot, int rows, int vocab, java.nio.FloatBuffer values) {
    long offset = slot * slotBytes;
    int size = rows * vocab * 4;
    if (size > slotBytes) {
      throw new IllegalArgumentException(size + " bytes do not fit a slot of " + slotBytes);
    }
    map.slice((int) offset, size).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
        .put(values);
    return Logits.newBuilder().setDtype(dev.tally.api.v1.DType.DTYPE_FLOAT32).setRows(rows)
        .setVocabSize(vocab).setSharedMemory(SharedMemoryRef.newBuilder().setRegion(name)
            .setOffset(offset).setByteSize(size)).build();
  }

  /** The object's name: "/" + this is its key. */
  public String name() {
    return name;
  }

  /** Removes the name (the server keeps its mapping); call once registered, or refused. */
  public void unlink() {
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
