package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import java.util.List;

/**
 * Absolute-probability truncation: epsilon and eta sampling (Hewitt, Manning and Liang, "Truncation
 * Sampling as Language Model Desmoothing", 2022), as HF transformers' {@code EpsilonLogitsWarper}
 * and {@code EtaLogitsWarper} implement them.
 *
 * <p>Both remove the candidates whose probability (softmax over the current candidates, compared
 * in float32 as HF compares its float32 probabilities) is below a cutoff, except that the {@code
 * min_tokens_to_keep} most likely candidates always survive. Survivors keep their logits. Neither
 * sorts the vocabulary: one pass finds the survivors, and only when fewer than {@code
 * min_tokens_to_keep} survive is the top of the list selected ({@link Candidates#keepTop}).
 *
 * <p><b>Ties.</b> The cutoff itself keeps every token at or above it, ties included. The {@code
 * min_tokens_to_keep} floor keeps exactly that many, in canonical order (logit descending, then
 * token id ascending), as {@code top_k} does (DESIGN §3); HF keeps every token tied with the k-th
 * best logit there.
 */
final class Cutoffs {
  private Cutoffs() {}

  private static final ParamSpec MIN_TOKENS_TO_KEEP = ParamSpec.integer("min_tokens_to_keep",
          "The most likely candidates that always survive, >= 1 (HF min_tokens_to_keep).")
      .withDefault(1L).withRange(1, Integer.MAX_VALUE);

  /**
   * Epsilon sampling, HF {@code EpsilonLogitsWarper} ({@code generate(epsilon_cutoff=…)}): remove
   * {@code p < epsilon}, keeping at least {@code min_tokens_to_keep}. Range {@code [0, 1)}; 0 (the
   * default, HF's {@code GenerationConfig} value) is off: HF's warper refuses 0, and {@code
   * generate} does not add it for 0.
   */
  static final ProcessorFactory EPSILON = Factories.processor("epsilon_cutoff",
      "Removes tokens with probability below epsilon, keeping at least min_tokens_to_keep (HF epsilon_cutoff).",
      List.of(ParamSpec.number("epsilon", "Probability cutoff, in [0, 1); 0 = off. HF suggests 3e-4 to 9e-4.")
              .withDefault(0.0).withRange(0, true, 1, false),
          MIN_TOKENS_TO_KEEP),
      p -> new Cutoff((float) p.getDouble("epsilon"), false, p.getInt("min_tokens_to_keep")));

  /**
   * Eta sampling, HF {@code EtaLogitsWarper} ({@code generate(eta_cutoff=…)}): with H the entropy
   * (nats) of the softmax over the candidates, the cutoff is {@code η = min(ε, √ε · e^{−H})};
   * remove {@code p < η}, keeping at least {@code min_tokens_to_keep}. Range {@code [0, 1)}; 0
   * (the default) is off.
   */
  static final ProcessorFactory ETA = Factories.processor("eta_cutoff",
      "Removes tokens with probability below min(epsilon, sqrt(epsilon) * exp(-entropy)) (HF eta_cutoff).",
      List.of(ParamSpec.number("epsilon", "Eta's epsilon, in [0, 1); 0 = off. HF suggests 3e-4 to 2e-3.")
              .withDefault(0.0).withRange(0, true, 1, false),
          MIN_TOKENS_TO_KEEP),
      p -> new Cutoff((float) p.getDouble("epsilon"), true, p.getInt("min_tokens_to_keep")));

  private static final class Cutoff implements LogitsProcessor {
    private final float epsilon;
    private final boolean eta;
    private final int minKeep;

    Cutoff(float epsilon, boolean eta, int minKeep) {
      this.epsilon = epsilon;
      this.eta = eta;
      this.minKeep = minKeep;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      if (epsilon <= 0f) {
        return;
      }
      double lse = c.logSumExp();
      if (lse == Double.NEGATIVE_INFINITY) {
        return;
      }
      float cutoff = epsilon;
      if (eta) {
        double entropy = 0;
        for (int i = 0, n = c.size(); i < n; i++) {
          float l = c.logit(c.id(i));
          if (l != Float.NEGATIVE_INFINITY) {
            double logp = l - lse;
            entropy -= Math.exp(logp) * logp;
          }
        }
        cutoff = (float) Math.min(epsilon, Math.sqrt(epsilon) * Math.exp(-entropy));
      }
      int live = 0;
      int kept = 0;
      for (int i = 0, n = c.size(); i < n; i++) {
        float l = c.logit(c.id(i));
        if (l != Float.NEGATIVE_INFINITY) {
          live++;
          if (probability(l, lse) >= cutoff) {
            kept++;
          }
        }
      }
      if (kept == live) {
        return;
      }
      if (kept < minKeep) {
        // Fewer survivors than the floor: the survivors are a top set by logit, so the floor's
        // top-k contains them all.
        c.keepTop(Math.min(minKeep, live));
        return;
      }
      for (int i = 0, n = c.size(); i < n; i++) {
        int id = c.id(i);
        float l = c.logit(id);
        if (l != Float.NEGATIVE_INFINITY && probability(l, lse) < cutoff) {
          c.remove(id);
        }
      }
    }

    private static float probability(float logit, double lse) {
      return (float) Math.exp(logit - lse);
    }
  }
}
