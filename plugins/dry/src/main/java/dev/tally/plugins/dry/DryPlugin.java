package dev.tally.plugins.dry;

import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import java.util.List;

/**
 * DRY ("Don't Repeat Yourself", p-e-w, text-generation-webui #5677), as llama.cpp implements it
 * ({@code llama_sampler_dry}, ported from koboldcpp): one processor, {@code dry}.
 */
public final class DryPlugin implements TallyPlugin {
  @Override
  public String name() {
    return "dry";
  }

  @Override
  public int spiMajorVersion() {
    return SpiVersion.MAJOR;
  }

  @Override
  public List<ProcessorFactory> processorFactories() {
    return List.of(DryProcessor.FACTORY);
  }
}
