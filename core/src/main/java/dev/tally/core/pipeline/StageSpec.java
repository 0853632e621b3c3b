package dev.tally.core.pipeline;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/** A stage a request names: a processor or selector name and its raw parameters. */
public final class StageSpec {
  private final String name;
  private final Map<String, Object> params;

  public StageSpec(String name, Map<String, Object> params) {
    this.name = Objects.requireNonNull(name, "name");
    // JSON null is a legal value ("use the default"), which Map.copyOf would refuse.
    this.params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
  }

  public static StageSpec of(String name) {
    return new StageSpec(name, Map.of());
  }

  public String name() {
    return name;
  }

  public Map<String, Object> params() {
    return params;
  }
}
