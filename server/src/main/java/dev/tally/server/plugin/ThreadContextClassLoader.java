package dev.tally.server.plugin;

/**
 * Sets the current thread's context class loader for the span of a try-with-resources block, and
 * puts the previous one back (Trino's {@code ThreadContextClassLoader}).
 */
final class ThreadContextClassLoader implements AutoCloseable {
  private final Thread thread;
  private final ClassLoader previous;

  ThreadContextClassLoader(ClassLoader loader) {
    this.thread = Thread.currentThread();
    this.previous = thread.getContextClassLoader();
    thread.setContextClassLoader(loader);
  }

  @Override
  public void close() {
    thread.setContextClassLoader(previous);
  }
}
