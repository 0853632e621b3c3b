package dev.tally.server.plugin;

import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.TallyPlugin;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The plugins loaded from the plugin directories, and their class loaders, which {@link #close()}
 * releases on shutdown (after the sampler threads have stopped).
 */
public final class LoadedPlugins implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LoadedPlugins.class);

  private final List<PluginBundle> bundles;

  LoadedPlugins(List<PluginBundle> bundles) {
    this.bundles = List.copyOf(bundles);
  }

  /** No plugins beyond the built-ins. */
  public static LoadedPlugins none() {
    return new LoadedPlugins(List.of());
  }

  public List<PluginBundle> bundles() {
    return bundles;
  }

  /**
   * The registry: first the plugins on the server's own class path (the built-ins), then every
   * loaded plugin, each through the same {@link ProcessorRegistry.Builder#install} path. Logs one
   * line per plugin.
   *
   * @param serverLoader where the built-ins are found with {@link ServiceLoader}
   * @throws PluginLoadException for a processor name two plugins provide, a plugin name used
   *     twice, or a plugin the registry refuses (bad name, SPI major version); the message names
   *     the folders or jars
   */
  public ProcessorRegistry registry(ClassLoader serverLoader) {
    ProcessorRegistry.Builder builder = ProcessorRegistry.builder();
    Map<String, String> processorOwners = new HashMap<>();
    Map<String, String> pluginOwners = new HashMap<>();
    for (TallyPlugin builtin : ServiceLoader.load(TallyPlugin.class, serverLoader)) {
      String where = "the server's class path";
      claim(builtin, where, processorOwners, pluginOwners);
      builder.install(builtin);
    }
    List<String> lines = new ArrayList<>();
    for (PluginBundle bundle : bundles) {
      for (TallyPlugin plugin : bundle.plugins()) {
        String where = describe(bundle);
        claim(plugin, where, processorOwners, pluginOwners);
        try {
          builder.install(plugin);
        } catch (RuntimeException | LinkageError e) {
          throw new PluginLoadException(where + ": " + e.getMessage(), e);
        }
        lines.add("loaded plugin " + plugin.name() + " " + plugin.version() + " from "
            + bundle.location() + ": " + features(plugin));
      }
    }
    ProcessorRegistry registry = builder.build();
    lines.forEach(log::info); // only once every plugin is in: a failed start logs no "loaded"
    return registry;
  }

  /** Records what a plugin provides, refusing names already taken. */
  private static void claim(TallyPlugin plugin, String where, Map<String, String> processorOwners,
      Map<String, String> pluginOwners) {
    String name;
    List<String> stages = new ArrayList<>();
    try {
      name = plugin.name();
      plugin.processorFactories().forEach(f -> stages.add(f.name()));
      plugin.selectorFactories().forEach(f -> stages.add(f.name()));
    } catch (RuntimeException | LinkageError e) {
      throw new PluginLoadException(where + ": the plugin failed to describe itself: " + e, e);
    }
    String label = "plugin " + name + " (" + where + ")";
    String previous = pluginOwners.putIfAbsent(name, label);
    if (previous != null) {
      throw new PluginLoadException("plugin name '" + name + "' is used twice: by " + previous
          + " and by " + label);
    }
    for (String stage : stages) {
      String owner = processorOwners.putIfAbsent(stage, label);
      if (owner != null) {
        throw new PluginLoadException("processor '" + stage + "' is provided twice: by " + owner
            + " and by " + label + "; processor names must be unique across plugins");
      }
    }
  }

  private static String features(TallyPlugin plugin) {
    Map<String, List<String>> byKind = new LinkedHashMap<>();
    for (ProcessorFactory f : plugin.processorFactories()) {
      byKind.computeIfAbsent("processors", k -> new ArrayList<>()).add(f.name());
    }
    for (SelectorFactory f : plugin.selectorFactories()) {
      byKind.computeIfAbsent("selectors", k -> new ArrayList<>()).add(f.name());
    }
    if (byKind.isEmpty()) {
      return "no processors";
    }
    List<String> parts = new ArrayList<>();
    byKind.forEach((kind, names) -> parts.add(kind + " " + String.join(", ", names)));
    return String.join("; ", parts);
  }

  static String describe(PluginBundle bundle) {
    if (bundle.jars().size() == 1 && bundle.jars().get(0).equals(bundle.location())) {
      return "plugin jar " + bundle.location();
    }
    List<String> names = new ArrayList<>();
    bundle.jars().forEach(j -> names.add(j.getFileName().toString()));
    return "plugin folder " + bundle.location() + " " + names;
  }

  /** Closes every plugin's class loader; plugin code must no longer run. */
  @Override
  public void close() {
    for (PluginBundle bundle : bundles) {
      try {
        bundle.loader().close();
      } catch (IOException e) {
        log.warn("cannot close the class loader of {}: {}", bundle.location(), e.getMessage());
      }
    }
  }
}
