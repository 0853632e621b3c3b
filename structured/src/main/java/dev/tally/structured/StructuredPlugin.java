package dev.tally.structured;

import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.TallyPlugin;
import dev.tally.structured.automaton.TokenTable;
import java.util.List;
import java.util.Map;

/** Structured output: the constraint processors, found through {@code ServiceLoader}. */
public final class StructuredPlugin implements TallyPlugin {
  private final List<ProcessorFactory> factories;

  public StructuredPlugin() {
    Map<String, TokenTable> tables = RegexFactory.tables();
    factories = List.of(RegexFactory.regex(tables), RegexFactory.jsonSchema(tables));
  }

  @Override
  public String name() {
    return "structured";
  }

  @Override
  public List<ProcessorFactory> processorFactories() {
    return factories;
  }
}
