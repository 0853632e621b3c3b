package dev.tally.server.plugin;

/**
 * A plugin directory that cannot be loaded: the message names the folder or jar and says what is
 * wrong. The server does not start.
 */
public final class PluginLoadException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public PluginLoadException(String message) {
    super(message);
  }

  public PluginLoadException(String message, Throwable cause) {
    super(message, cause);
  }
}
