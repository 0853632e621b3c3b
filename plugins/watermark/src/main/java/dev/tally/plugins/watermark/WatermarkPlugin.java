package dev.tally.plugins.watermark;

import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import java.util.List;

/**
 * The green-list watermark of Kirchenbauer et al. (2023, "A Watermark for Large Language
 * Models"), with the parameters of HF transformers' {@code WatermarkLogitsProcessor}: one
 * processor, {@code watermark}. {@code tally watermark-detect} computes the z-score of a token
 * sequence.
 */
public final class WatermarkPlugin implements TallyPlugin {
  @Override
  public String name() {
    return "watermark";
  }

  @Override
  public int spiMajorVersion() {
    return SpiVersion.MAJOR;
  }

  @Override
  public List<ProcessorFactory> processorFactories() {
    return List.of(WatermarkProcessor.FACTORY);
  }
}
