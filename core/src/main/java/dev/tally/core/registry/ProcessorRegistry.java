package dev.tally.core.registry;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.spi.NamedFactory;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;

/**
 * Every processor and selector the server can run, by name. Built once at start-up from the
 * installed plugins (built-ins included, through the same path), then read-only.
 */
public final class ProcessorRegistry {
  private final Map<String, RegisteredFactory> byName;
  private final List<TallyPlugin> plugins;

  private ProcessorRegistry(Map<String, RegisteredFactory> byName, List<TallyPlugin> plugins) {
    this.byName = Collections.unmodifiableMap(byName);
    this.plugins = List.copyOf(plugins);
  }

  /** The plugins on the class path of {@code loader} (for the server: the built-ins). */
  public static ProcessorRegistry fromServiceLoader(ClassLoader loader) {
    Builder b = builder();
    for (TallyPlugin plugin : ServiceLoader.load(TallyPlugin.class, loader)) {
      b.install(plugin);
    }
    return b.build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * The factory of that name.
   *
   * @param field the request field that names it, for the error
   * @throws TallyException {@link ErrorCode#UNKNOWN_PROCESSOR}, listing the known names
   */
  public RegisteredFactory lookup(String name, String field) {
    RegisteredFactory f = byName.get(name);
    if (f == null) {
      throw new TallyException(ErrorCode.UNKNOWN_PROCESSOR, field,
          "unknown processor '" + name + "'; known: " + String.join(", ", byName.keySet()));
    }
    return f;
  }

  /** Every registered factory, by name. */
  public List<RegisteredFactory> all() {
    return List.copyOf(byName.values());
  }

  /** The installed plugins, in installation order. */
  public List<TallyPlugin> plugins() {
    return plugins;
  }

  /** Names of the stages a plugin added, in its own order. */
  public static List<String> namesOf(TallyPlugin plugin) {
    List<String> names = new ArrayList<>();
    plugin.processorFactories().forEach(f -> names.add(f.name()));
    plugin.selectorFactories().forEach(f -> names.add(f.name()));
    return names;
  }

  /** Collects plugins; refuses bad names, duplicates and foreign SPI versions. */
  public static final class Builder {
    private final Map<String, RegisteredFactory> byName = new TreeMap<>();
    private final List<TallyPlugin> plugins = new ArrayList<>();

    private Builder() {}

    /**
     * Installs a plugin's factories.
     *
     * @throws IllegalStateException for a name clash, a bad name or schema, or an SPI version
     *     mismatch; the message names the plugin
     */
    public Builder install(TallyPlugin plugin) {
      String pluginName = plugin.name();
      if (plugin.spiMajorVersion() != SpiVersion.MAJOR) {
        throw new IllegalStateException("plugin " + pluginName + " was built for SPI version "
            + plugin.spiMajorVersion() + ".x; this server runs SPI " + SpiVersion.CURRENT);
      }
      for (ProcessorFactory f : plugin.processorFactories()) {
        add(new RegisteredFactory(f, StageKind.PROCESSOR, pluginName, plugin.version()));
      }
      for (SelectorFactory f : plugin.selectorFactories()) {
        add(new RegisteredFactory(f, StageKind.SELECTOR, pluginName, plugin.version()));
      }
      plugins.add(plugin);
      return this;
    }

    private void add(RegisteredFactory f) {
      String name = f.name();
      if (name == null || !NamedFactory.NAME.matcher(name).matches()) {
        throw new IllegalStateException("plugin " + f.plugin() + ": processor name '" + name
            + "' must match " + NamedFactory.NAME.pattern());
      }
      Set<String> params = new HashSet<>();
      for (ParamSpec p : f.params()) {
        if (!params.add(p.name())) {
          throw new IllegalStateException("plugin " + f.plugin() + ": processor '" + name
              + "' declares parameter '" + p.name() + "' twice");
        }
      }
      RegisteredFactory existing = byName.putIfAbsent(name, f);
      if (existing != null) {
        throw new IllegalStateException("processor '" + name + "' is provided by both plugin "
            + existing.plugin() + " and plugin " + f.plugin());
      }
    }

    public ProcessorRegistry build() {
      return new ProcessorRegistry(new TreeMap<>(byName), plugins);
    }
  }
}
