package dev.tally.plugins.mirostat;

import dev.tally.spi.SelectorFactory;
import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import java.util.List;

/**
 * Mirostat (Basu et al., 2021, "Mirostat: a neural text decoding algorithm that directly controls
 * perplexity"), as llama.cpp implements it: two selectors, {@code mirostat} (v1) and {@code
 * mirostat_v2}, each keeping the target surprise μ per sequence.
 */
public final class MirostatPlugin implements TallyPlugin {
  @Override
  public String name() {
    return "mirostat";
  }

  @Override
  public int spiMajorVersion() {
    return SpiVersion.MAJOR; // inlined at compile time: the SPI this plugin was built against
  }

  @Override
  public List<SelectorFactory> selectorFactories() {
    return List.of(MirostatSelector.V1, MirostatSelector.V2);
  }
}
