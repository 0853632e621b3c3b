package dev.tally.core.registry;

import dev.tally.spi.NamedFactory;
import dev.tally.spi.ParamSpec;
import java.util.List;
import java.util.Objects;

/** A factory as the registry holds it: with its kind and the plugin that brought it. */
public final class RegisteredFactory {
  private final NamedFactory<?> factory;
  private final StageKind kind;
  private final String plugin;
  private final String pluginVersion;
  private final List<ParamSpec> params;

  RegisteredFactory(NamedFactory<?> factory, StageKind kind, String plugin, String pluginVersion) {
    this.factory = Objects.requireNonNull(factory, "factory");
    this.kind = kind;
    this.plugin = plugin;
    this.pluginVersion = pluginVersion;
    this.params = List.copyOf(factory.params()); // read once: the schema must not change
  }

  public String name() {
    return factory.name();
  }

  public String description() {
    return factory.description();
  }

  public StageKind kind() {
    return kind;
  }

  public String plugin() {
    return plugin;
  }

  public String pluginVersion() {
    return pluginVersion;
  }

  public List<ParamSpec> params() {
    return params;
  }

  /** The parameter of that name, or {@code null}. */
  public ParamSpec param(String name) {
    for (ParamSpec p : params) {
      if (p.name().equals(name)) {
        return p;
      }
    }
    return null;
  }

  public NamedFactory<?> factory() {
    return factory;
  }
}
