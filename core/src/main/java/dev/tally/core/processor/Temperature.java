package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import java.util.List;

/**
 * {@code logit /= temperature} over the candidates (everyone's rule: vLLM, HF {@code
 * TemperatureLogitsWarper}, llama.cpp {@code temp}, OpenAI). Disabled value: 1. Ties: none — a
 * positive scale keeps the order. Temperature 0 is not this stage's business: the chain compiler
 * turns it into the {@code greedy} selector. For a temperature so small that the quotient
 * overflows, the logits are shifted by their max first.
 */
final class Temperature implements LogitsProcessor {
  static final ProcessorFactory FACTORY = Factories.processor("temperature",
      "Divides every logit by the temperature; < 1 sharpens, > 1 flattens.",
      List.of(ParamSpec.number("temperature", "Temperature > 0; 1 = off.")
          .withDefault(1.0).withRange(0, false, Double.POSITIVE_INFINITY, false)),
      p -> new Temperature(toFloat(p.getDouble("temperature"))));

  /**
   * The validated (positive, finite) double as a positive, finite float. A plain cast would turn
   * a temperature below 1.4e-45 into 0 (0 / 0 = NaN logits) and one above 3.4e38 into +inf
   * (-inf / +inf = NaN for a masked token): found by the pipeline fuzz test.
   */
  static float toFloat(double temperature) {
    return (float) Math.min(Math.max(temperature, Float.MIN_VALUE), Float.MAX_VALUE);
  }

  private final float temperature;

  Temperature(float temperature) {
    this.temperature = temperature;
  }

  @Override
  public void apply(Candidates c, SamplingContext context) {
    if (temperature == 1f) {
      return;
    }
    divide(c, temperature);
  }

  /**
   * Divides every candidate's logit by {@code temperature} (> 0). Shared with {@code
   * dynamic_temperature}.
   */
  static void divide(Candidates c, float temperature) {
    // A temperature below 1 can overflow float (20 / 1e-38 = +inf), and a row of infinities
    // has no softmax (inf - inf = NaN). Only then, divide the distance to the max instead: the
    // same distribution (softmax ignores a shift), with the max at 0 and far tokens at -inf.
    // Otherwise the logits are divided as they are, so later stages see the plain quotient.
    float shift = 0f;
    if (temperature < 1f) {
      float max = c.maxLogit();
      if (Float.isFinite(max) && Float.isInfinite(max / temperature)) {
        shift = max;
      }
    }
    if (c.isDense()) {
      float[] logits = c.logits();
      for (int i = 0, n = c.size(); i < n; i++) {
        logits[i] = (logits[i] - shift) / temperature;
      }
    } else { // token by token: a short list after a truncation leaves the rest of the row alone
      for (int i = 0, n = c.size(); i < n; i++) {
        int id = c.id(i);
        c.setLogit(id, (c.logit(id) - shift) / temperature);
      }
    }
    c.orderPreserved(true); // a positive scale (and a shift) keeps the order
  }
}
