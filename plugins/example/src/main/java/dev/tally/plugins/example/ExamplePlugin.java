package dev.tally.plugins.example;

import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import java.util.List;

/**
 * The example plugin of {@code docs/plugins.md}: one stateful processor and one selector, each
 * small enough to read in a minute.
 *
 * <p>The server finds this class through {@code
 * src/main/resources/META-INF/services/dev.tally.spi.TallyPlugin}, which names it.
 */
public final class ExamplePlugin implements TallyPlugin {
  @Override
  public String name() {
    return "example";
  }

  // version() defaults to the jar's Implementation-Version, which the build writes.

  @Override
  public int spiMajorVersion() {
    return SpiVersion.MAJOR; // a constant: compiled into this class, so the server can check it
  }

  @Override
  public List<ProcessorFactory> processorFactories() {
    return List.of(TokenBudget.FACTORY);
  }

  @Override
  public List<SelectorFactory> selectorFactories() {
    return List.of(ConfidentGreedy.FACTORY);
  }
}
