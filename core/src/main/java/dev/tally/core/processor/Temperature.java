package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import java.util.List;

/**
 * {@code logit /= temperature} over the candidates (everyone's rule). Temperature 0 is not this
 * stage's business: the chain compiler turns it into the {@code greedy} selector.
 */
final class Temperature implements LogitsProcessor {
  static final ProcessorFactory FACTORY = Factories.processor("temperature",
      "Divides every logit by the temperature; < 1 sharpens, > 1 flattens.",
      List.of(ParamSpec.number("temperature", "Temperature > 0; 1 = off.")
          .withDefault(1.0).withRange(0, false, Double.POSITIVE_INFINITY, false)),
      p -> new Temperature((float) p.getDouble("temperature")));

  private final float temperature;

  Temperature(float temperature) {
    this.temperature = temperature;
  }

  @Override
  public void apply(Candidates c, SamplingContext context) {
    if (temperature == 1f) {
      return;
    }
    float[] logits = c.logits();
    if (c.isDense()) {
      for (int i = 0, n = c.size(); i < n; i++) {
        logits[i] /= temperature;
      }
    } else {
      for (int i = 0, n = c.size(); i < n; i++) {
        int id = c.id(i);
        logits[id] /= temperature;
      }
    }
    c.orderPreserved(true); // a positive scale keeps the order
  }
}
