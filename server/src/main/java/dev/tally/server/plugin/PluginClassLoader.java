package dev.tally.server.plugin;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.Enumeration;
import java.util.List;
import java.util.Objects;

/**
 * The class loader of one plugin: its own jars, the JDK, and from the server only the SPI.
 *
 * <p>The parent is the platform loader, so the plugin sees the JDK's modules but never the
 * server's class path: a plugin may bundle Guava, Jackson or anything else at any version without
 * clashing with the server or another plugin. Classes and resources under the SPI package ({@code
 * dev.tally.spi.}) are loaded <em>only</em> from the server's loader, so that {@code TallyPlugin},
 * {@code Candidates} and the rest are the very classes the server uses; a copy of the SPI bundled
 * by mistake is never looked at. Everything else is the JDK's or the plugin's own. Multi-resource
 * lookups ({@code getResources}) outside the SPI package stay local, so {@link
 * java.util.ServiceLoader} sees only the plugin's own {@code META-INF/services} files.
 *
 * <p>After Trino's {@code PluginClassLoader}; the allow-list is deliberately one package long.
 */
final class PluginClassLoader extends URLClassLoader {
  /** Class-name prefixes delegated to the server. Keep it short and reviewed. */
  static final List<String> SPI_PACKAGES = List.of("dev.tally.spi.");

  static {
    registerAsParallelCapable();
  }

  private final String pluginName;
  private final ClassLoader spiLoader;
  private final List<String> spiResources;

  /**
   * @param pluginName the plugin folder's name, for {@link #toString()} and error messages
   * @param urls the plugin's jars
   * @param spiLoader the server's loader, which has the SPI classes
   */
  PluginClassLoader(String pluginName, List<URL> urls, ClassLoader spiLoader) {
    super("plugin-" + pluginName, urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
    this.pluginName = Objects.requireNonNull(pluginName, "pluginName");
    this.spiLoader = Objects.requireNonNull(spiLoader, "spiLoader");
    this.spiResources = SPI_PACKAGES.stream().map(p -> p.replace('.', '/')).toList();
  }

  /** The plugin folder's name. */
  String pluginName() {
    return pluginName;
  }

  @Override
  protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
    synchronized (getClassLoadingLock(name)) {
      Class<?> c = findLoadedClass(name);
      if (c == null) {
        // SPI classes come from the server and nowhere else; the rest: the JDK, then the jars.
        c = isSpiClass(name) ? spiLoader.loadClass(name) : super.loadClass(name, false);
      }
      if (resolve) {
        resolveClass(c);
      }
      return c;
    }
  }

  @Override
  public URL getResource(String name) {
    return isSpiResource(name) ? spiLoader.getResource(name) : super.getResource(name);
  }

  @Override
  public Enumeration<URL> getResources(String name) throws IOException {
    return isSpiResource(name) ? spiLoader.getResources(name) : super.getResources(name);
  }

  private boolean isSpiClass(String name) {
    for (String prefix : SPI_PACKAGES) {
      if (name.startsWith(prefix)) {
        return true;
      }
    }
    return false;
  }

  private boolean isSpiResource(String name) {
    String n = name.startsWith("/") ? name.substring(1) : name;
    for (String prefix : spiResources) {
      if (n.startsWith(prefix)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return "PluginClassLoader[" + pluginName + "@" + Integer.toHexString(hashCode()) + "]";
  }
}
