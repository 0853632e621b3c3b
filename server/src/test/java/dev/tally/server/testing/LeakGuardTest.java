package dev.tally.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.Test;

/** The guard sees a deliberate leak (then forgets it, so the build still passes). */
final class LeakGuardTest {
  @Test
  void aLeakedBufferIsReported() throws Exception {
    assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.PARANOID);
    leak();
    java.util.List<String> leaks = java.util.List.of();
    for (int i = 0; i < 50 && leaks.isEmpty(); i++) {
      LeakGuard.flush();
      leaks = LeakGuard.drain();
    }
    assertThat(leaks).isNotEmpty();
    assertThat(leaks.get(0)).contains("ByteBuf");
  }

  private static void leak() {
    ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(64);
    b.writeLong(42); // never released
  }
}
