package dev.tally.server.testing;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Makes a Netty leak fail the build (issue 8). Netty's detector runs at PARANOID in the server's
 * tests (surefire config) but only <em>logs</em> a leak. This extension, auto-registered for every
 * test class ({@code junit-platform.properties}), installs a detector factory whose detectors
 * record each leak report, and fails the test class during (or after) which one was reported.
 *
 * <p>The factory must be in place before Netty creates its buffer detectors (class init of
 * {@code AbstractByteBuf}); the first test class's {@code beforeAll} comes before any Netty use.
 * Leaks are reported when a leaked buffer has been collected and another is tracked, so the check
 * after each class first runs a GC and allocates a few tracked buffers.
 */
public final class LeakGuard implements BeforeAllCallback, AfterAllCallback {
  private static final List<String> LEAKS = new ArrayList<>();

  static {
    ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
      @Override
      @SuppressWarnings("deprecation")
      public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource,
          int samplingInterval, long maxActive) {
        ResourceLeakDetector<T> d = new ResourceLeakDetector<>(resource, samplingInterval,
            maxActive);
        d.setLeakListener((type, records) -> {
          synchronized (LEAKS) {
            LEAKS.add(type + ": " + records);
          }
        });
        return d;
      }
    });
  }

  /** The leaks reported so far, and forget them (for the guard's own test). */
  public static List<String> drain() {
    synchronized (LEAKS) {
      List<String> out = new ArrayList<>(LEAKS);
      LEAKS.clear();
      return out;
    }
  }

  /** Runs a GC and tracks a few buffers, so Netty reports collected leaks now. */
  public static void flush() {
    for (int i = 0; i < 3; i++) {
      System.gc();
      for (int k = 0; k < 8; k++) {
        io.netty.buffer.PooledByteBufAllocator.DEFAULT.directBuffer(8).release();
        io.netty.buffer.UnpooledByteBufAllocator.DEFAULT.heapBuffer(8).release();
      }
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    // Loading this class installed the factory.
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (context.getRequiredTestClass() == LeakGuardTest.class) {
      return;
    }
    flush();
    List<String> leaks = drain();
    if (!leaks.isEmpty()) {
      throw new AssertionError("Netty reported " + leaks.size() + " leak(s) during or before "
          + context.getRequiredTestClass().getSimpleName() + ":\n" + String.join("\n", leaks));
    }
  }
}
