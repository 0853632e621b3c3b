package dev.tally.structured;

import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.TallyPlugin;
import java.util.List;

/** Structured output: the constraint processors, found through {@code ServiceLoader}. */
public final class StructuredPlugin implements TallyPlugin {
  private final RegexFactory regex = new RegexFactory();

  @Override
  public String name() {
    return "structured";
  }

  @Override
  public List<ProcessorFactory> processorFactories() {
    return List.of(regex);
  }
}
