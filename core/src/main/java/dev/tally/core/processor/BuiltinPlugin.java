package dev.tally.core.processor;

import dev.tally.core.TallyVersion;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.TallyPlugin;
import java.util.List;

/**
 * The processors and selectors that ship with Tally, registered through the same SPI as any
 * plugin (found by {@link java.util.ServiceLoader} from {@code META-INF/services}).
 */
public final class BuiltinPlugin implements TallyPlugin {
  /** The plugin name the catalogue shows for built-ins. */
  public static final String NAME = "builtin";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String version() {
    return TallyVersion.get();
  }

  @Override
  public List<ProcessorFactory> processorFactories() {
    return List.of(
        Masks.ALLOWED,
        Masks.BANNED,
        Masks.MIN_TOKENS,
        Masks.LOGIT_BIAS,
        SequenceBias.SEQUENCE_BIAS,
        SequenceBias.BAD_WORDS,
        Penalties.REPETITION,
        Penalties.PRESENCE_FREQUENCY,
        NoRepeatNGram.FACTORY,
        Temperature.FACTORY,
        DynamicTemperature.FACTORY,
        Truncation.TOP_N_SIGMA,
        Truncation.TOP_K,
        Truncation.TOP_P,
        Truncation.MIN_P,
        Truncation.TYPICAL_P,
        Cutoffs.EPSILON,
        Cutoffs.ETA,
        Xtc.FACTORY);
  }

  @Override
  public List<SelectorFactory> selectorFactories() {
    return List.of(Selectors.GREEDY, Selectors.DRAW);
  }
}
