package dev.tally.server.plugin;

import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads plugin directories. Each directory holds one entry per plugin:
 *
 * <ul>
 *   <li>a <b>subfolder</b>: the plugin's class path is every {@code *.jar} directly in it, sorted
 *       by name (the plugin's own jar and the libraries it bundles);
 *   <li>a lone <b>{@code *.jar}</b> file: a plugin with no bundled libraries (or a fat jar).
 * </ul>
 *
 * Hidden entries (a leading dot) and other files are ignored. Each plugin gets its own {@link
 * PluginClassLoader} and is found with {@link ServiceLoader} inside it, with that loader as the
 * context class loader; every plugin object is then wrapped by {@link ClassLoaderSafe}.
 *
 * <p>Start-up errors, each naming the folder or jar: a folder without jars, a jar that cannot be
 * read, no {@code TallyPlugin} provider, a provider that cannot be created, a plugin built for
 * another SPI major version (or a newer minor one). Loaders opened before an error are closed.
 */
public final class PluginLoader {
  private static final Logger log = LoggerFactory.getLogger(PluginLoader.class);

  /** The manifest attribute in which a plugin jar records the SPI version it was built for. */
  public static final String SPI_VERSION_ATTRIBUTE = "Tally-Spi-Version";

  private PluginLoader() {}

  /**
   * Loads every plugin in {@code dirs}, in order.
   *
   * @param spiLoader the server's loader, which provides the {@code dev.tally.spi} classes
   * @throws PluginLoadException naming the offending folder or jar
   */
  public static LoadedPlugins load(List<Path> dirs, ClassLoader spiLoader) {
    List<PluginBundle> bundles = new ArrayList<>();
    boolean ok = false;
    try {
      for (Path dir : dirs) {
        for (Path entry : entries(dir)) {
          bundles.add(loadOne(entry, spiLoader));
        }
      }
      ok = true;
      return new LoadedPlugins(bundles);
    } finally {
      if (!ok) {
        new LoadedPlugins(bundles).close();
      }
    }
  }

  /** The plugin entries of a directory: subfolders and jars, sorted by name. */
  static List<Path> entries(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new PluginLoadException("plugin directory " + dir + " does not exist or is not a"
          + " directory");
    }
    List<Path> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir)) {
      s.sorted().forEach(p -> {
        String name = p.getFileName().toString();
        if (name.startsWith(".")) {
          return;
        }
        if (Files.isDirectory(p) || (name.endsWith(".jar") && Files.isRegularFile(p))) {
          out.add(p);
        } else {
          log.debug("ignoring {}: neither a plugin folder nor a jar", p);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      throw new PluginLoadException("cannot list plugin directory " + dir + ": " + e.getMessage(),
          e);
    }
    return out;
  }

  /** Loads one plugin folder or lone jar. */
  static PluginBundle loadOne(Path entry, ClassLoader spiLoader) {
    List<Path> jars = jarsOf(entry);
    String name = entry.getFileName().toString();
    if (name.endsWith(".jar")) {
      name = name.substring(0, name.length() - 4);
    }
    String where = Files.isDirectory(entry) ? "plugin folder " + entry : "plugin jar " + entry;
    checkManifests(jars, where);
    List<URL> urls = new ArrayList<>();
    for (Path jar : jars) {
      try {
        urls.add(jar.toUri().toURL());
      } catch (MalformedURLException e) {
        throw new PluginLoadException(where + ": bad jar path " + jar, e);
      }
    }
    PluginClassLoader loader = new PluginClassLoader(name, urls, spiLoader);
    try {
      List<TallyPlugin> plugins = new ArrayList<>();
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        Iterator<TallyPlugin> it = ServiceLoader.load(TallyPlugin.class, loader).iterator();
        while (it.hasNext()) {
          TallyPlugin plugin = it.next();
          checkSpiVersion(plugin, where);
          plugins.add(ClassLoaderSafe.plugin(plugin, loader));
        }
      } catch (ServiceConfigurationError | RuntimeException | LinkageError e) {
        if (e instanceof PluginLoadException) {
          throw (PluginLoadException) e;
        }
        throw new PluginLoadException(where + ": cannot load its TallyPlugin provider: " + e, e);
      }
      if (plugins.isEmpty()) {
        throw new PluginLoadException(where + ": no service provider of "
            + TallyPlugin.class.getName() + " in " + fileNames(jars) + "; a plugin jar needs a"
            + " META-INF/services/" + TallyPlugin.class.getName() + " file naming its"
            + " TallyPlugin class");
      }
      return new PluginBundle(entry, jars, loader, plugins);
    } catch (RuntimeException e) {
      try {
        loader.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  private static List<Path> jarsOf(Path entry) {
    if (!Files.isDirectory(entry)) {
      return List.of(entry);
    }
    List<Path> jars = new ArrayList<>();
    try (Stream<Path> s = Files.list(entry)) {
      s.filter(p -> p.getFileName().toString().endsWith(".jar") && Files.isRegularFile(p))
          .sorted().forEach(jars::add);
    } catch (IOException | UncheckedIOException e) {
      throw new PluginLoadException("cannot list plugin folder " + entry + ": " + e.getMessage(),
          e);
    }
    if (jars.isEmpty()) {
      throw new PluginLoadException("plugin folder " + entry + " holds no jar; each subfolder of"
          + " a plugin directory is one plugin: its jar and the jars it bundles");
    }
    return jars;
  }

  /**
   * Reads {@value #SPI_VERSION_ATTRIBUTE} from each jar's manifest: the SPI a plugin was built
   * for. A different major version, or a newer minor one (whose additions this server lacks), is
   * refused. A bundled copy of the SPI itself is harmless (the server's is always used) but
   * logged.
   */
  private static void checkManifests(List<Path> jars, String where) {
    for (Path jar : jars) {
      try (JarFile file = new JarFile(jar.toFile())) {
        Manifest manifest = file.getManifest();
        String version = manifest == null ? null
            : manifest.getMainAttributes().getValue(new Attributes.Name(SPI_VERSION_ATTRIBUTE));
        if (version != null) {
          checkSpiVersion(version.trim(), where + " (" + jar.getFileName() + ")");
        }
        if (file.getEntry("dev/tally/spi/TallyPlugin.class") != null) {
          log.warn("{} bundles a copy of the Tally SPI in {}; it is ignored (the server's SPI is"
              + " used): declare tally-spi with scope 'provided'", where, jar.getFileName());
        }
      } catch (IOException e) {
        throw new PluginLoadException(where + ": cannot read " + jar.getFileName() + " as a jar: "
            + e.getMessage(), e);
      }
    }
  }

  static void checkSpiVersion(String version, String where) {
    String[] parts = version.split("\\.");
    int major;
    int minor;
    try {
      major = Integer.parseInt(parts[0]);
      minor = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
    } catch (NumberFormatException e) {
      throw new PluginLoadException(where + ": " + SPI_VERSION_ATTRIBUTE + " '" + version
          + "' is not MAJOR.MINOR");
    }
    if (major != SpiVersion.MAJOR) {
      throw new PluginLoadException(where + " was built for SPI version " + version
          + "; this server runs SPI " + SpiVersion.CURRENT + " (major versions must match)");
    }
    if (minor > SpiVersion.MINOR) {
      throw new PluginLoadException(where + " was built for SPI version " + version
          + ", newer than this server's SPI " + SpiVersion.CURRENT + "; upgrade the server");
    }
  }

  private static void checkSpiVersion(TallyPlugin plugin, String where) {
    int major = plugin.spiMajorVersion();
    if (major != SpiVersion.MAJOR) {
      throw new PluginLoadException(where + ": plugin " + plugin.getClass().getName()
          + " was built for SPI version " + major + ".x; this server runs SPI "
          + SpiVersion.CURRENT);
    }
  }

  private static List<String> fileNames(List<Path> jars) {
    List<String> names = new ArrayList<>();
    jars.forEach(j -> names.add(j.getFileName().toString()));
    return names;
  }
}
