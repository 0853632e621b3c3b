package dev.tally.server.plugin;

import dev.tally.spi.TallyPlugin;
import java.nio.file.Path;
import java.util.List;

/**
 * One loaded plugin folder (or lone jar): where it came from, its jars, its class loader and the
 * {@link TallyPlugin}s found in it, already wrapped so that every call runs under its loader.
 */
public final class PluginBundle {
  private final Path location;
  private final List<Path> jars;
  private final PluginClassLoader loader;
  private final List<TallyPlugin> plugins;

  PluginBundle(Path location, List<Path> jars, PluginClassLoader loader,
      List<TallyPlugin> plugins) {
    this.location = location;
    this.jars = List.copyOf(jars);
    this.loader = loader;
    this.plugins = List.copyOf(plugins);
  }

  /** The plugin folder, or the lone jar. */
  public Path location() {
    return location;
  }

  /** The jars on the plugin's class path, sorted by name. */
  public List<Path> jars() {
    return jars;
  }

  /** The plugins it provides (usually one), wrapped. */
  public List<TallyPlugin> plugins() {
    return plugins;
  }

  /** The plugin's class loader. */
  public ClassLoader classLoader() {
    return loader;
  }

  PluginClassLoader loader() {
    return loader;
  }

  @Override
  public String toString() {
    return location.toString();
  }
}
