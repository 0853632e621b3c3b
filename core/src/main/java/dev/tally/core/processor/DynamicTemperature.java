package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import java.util.List;

/**
 * Dynamic (entropy-based) temperature: llama.cpp's {@code temp_ext} sampler ({@code
 * llama_sampler_init_temp_ext(temp, delta, exponent)}; server and CLI {@code dynatemp_range},
 * {@code dynatemp_exponent}). Matches {@code llama_sampler_temp_ext_apply}.
 *
 * <p><b>Formula.</b> With N the candidates with a finite logit and H the entropy (nats) of the
 * softmax over them, {@code lo = max(0, T − δ)} and {@code hi = T + δ}:
 *
 * <pre>
 *   T_dyn = lo + (hi − lo) · (H / ln N)^exponent        then  logit /= T_dyn
 * </pre>
 *
 * A flat distribution (H = ln N) gets {@code hi}, a confident one a temperature near {@code lo}.
 * (The often-quoted {@code lo + 2δ·(H/ln N)^e} is the same only when T ≥ δ; this is the code's
 * rule.)
 *
 * <p><b>Disabled / edge values.</b> {@code delta = 0} (the default): plain temperature T, so {@code
 * temperature = 1, delta = 0} is a no-op. With {@code delta > 0} and at most one candidate: no-op
 * (llama.cpp returns early). A temperature {@code ≤ 0} — {@code temperature = 0} with {@code delta
 * = 0}, or {@code T_dyn = 0} — keeps only the most likely candidate, as llama.cpp's {@code temp ≤
 * 0} does.
 *
 * <p><b>Ties.</b> Temperature keeps the order, so it has no tie rule of its own; the argmax of the
 * {@code T ≤ 0} case goes to the lowest token id (llama.cpp: the first in array order).
 *
 * <p><b>Difference.</b> llama.cpp's N is the array size, which counts entries an earlier stage set
 * to {@code -inf} but left in place (top-n-sigma, logit bias); Tally's N counts only live
 * candidates, the distribution the entropy is taken over.
 */
final class DynamicTemperature implements LogitsProcessor {
  static final ProcessorFactory FACTORY = Factories.processor("dynamic_temperature",
      "Entropy-based temperature between max(0, T - delta) and T + delta (llama.cpp temp_ext / dynatemp).",
      List.of(
          ParamSpec.number("temperature", "Base temperature T >= 0; 0 with delta 0 = keep the argmax.")
              .withDefault(1.0).withRange(0, true, Double.POSITIVE_INFINITY, false),
          ParamSpec.number("delta", "Range delta >= 0 around T (llama.cpp dynatemp_range); 0 = plain temperature.")
              .withDefault(0.0).withRange(0, true, Double.POSITIVE_INFINITY, false),
          ParamSpec.number("exponent", "Exponent >= 0 applied to the normalised entropy (llama.cpp dynatemp_exponent).")
              .withDefault(1.0).withRange(0, true, Double.POSITIVE_INFINITY, false)),
      p -> new DynamicTemperature((float) p.getDouble("temperature"), (float) p.getDouble("delta"),
          (float) p.getDouble("exponent")));

  private final float temperature;
  private final float delta;
  private final float exponent;

  DynamicTemperature(float temperature, float delta, float exponent) {
    this.temperature = temperature;
    this.delta = delta;
    this.exponent = exponent;
  }

  @Override
  public void apply(Candidates c, SamplingContext context) {
    float t = temperature;
    if (delta > 0f) {
      double lse = c.logSumExp();
      int n = 0;
      double entropy = 0;
      for (int i = 0, size = c.size(); i < size; i++) {
        float l = c.logit(c.id(i));
        if (l != Float.NEGATIVE_INFINITY) {
          n++;
          double logp = l - lse;
          double p = Math.exp(logp);
          if (p > 0) {
            entropy -= p * logp;
          }
        }
      }
      if (n <= 1) {
        return;
      }
      double lo = Math.max(0.0, (double) temperature - delta);
      double hi = (double) temperature + delta;
      double normalised = entropy / Math.log(n);
      t = (float) (lo + (hi - lo) * Math.pow(normalised, exponent));
    } else if (t == 1f) {
      return;
    }
    if (t > 0f) {
      Temperature.divide(c, t);
    } else {
      keepArgmax(c);
    }
  }

  /** Removes every candidate but the most likely one (ties to the lowest token id). */
  static void keepArgmax(Candidates c) {
    int best = -1;
    float bestLogit = Float.NEGATIVE_INFINITY;
    for (int i = 0, n = c.size(); i < n; i++) {
      int id = c.id(i);
      float l = c.logit(id);
      if (l > bestLogit || (l == bestLogit && best >= 0 && id < best)) {
        best = id;
        bestLogit = l;
      }
    }
    for (int i = 0, n = c.size(); i < n; i++) {
      int id = c.id(i);
      if (id != best) {
        c.remove(id);
      }
    }
  }
}
