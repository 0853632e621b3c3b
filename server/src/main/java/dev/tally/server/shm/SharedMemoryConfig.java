package dev.tally.server.shm;

import java.nio.file.Path;

/**
 * Shared-memory settings.
 *
 * @param directory where POSIX shared-memory names live ({@code shm_open}'s {@code /dev/shm})
 * @param maxRegionsPerOwner regions one connection or one session may hold
 * @param maxBytesMapped bytes mapped at once, every owner's regions together
 */
public record SharedMemoryConfig(Path directory, int maxRegionsPerOwner, long maxBytesMapped) {
  public SharedMemoryConfig {
    if (directory == null || maxRegionsPerOwner < 1 || maxBytesMapped < 1) {
      throw new IllegalArgumentException("shared memory needs a directory and positive limits");
    }
  }

  public static SharedMemoryConfig defaults() {
    return new SharedMemoryConfig(Path.of("/dev/shm"), 64, 64L << 30);
  }
}
