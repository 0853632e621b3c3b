package dev.tally.plugins.mirostat;

import dev.tally.spi.Candidates;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.StatefulSelector;
import dev.tally.spi.TokenHistory;
import dev.tally.spi.TokenSelector;
import java.util.List;

/**
 * The two Mirostat selectors, after llama.cpp's {@code llama_sampler_mirostat} and {@code
 * llama_sampler_mirostat_v2}:
 *
 * <ul>
 *   <li><b>v2</b>: softmax over the candidates; keep the best tokens while their surprise {@code
 *       −log2 p} is at most μ (always at least the best one); renormalise; draw.
 *   <li><b>v1</b>: estimate the Zipf exponent ŝ from the {@code m} most likely tokens
 *       (least squares over {@code t_i = ln((i+2)/(i+1))}, {@code b_i = ln(p_i / p_(i+1))}); set
 *       {@code k = (ε̂·2^μ / (1 − V^(−ε̂)))^(1/ŝ)} with {@code ε̂ = ŝ − 1} and V the vocabulary
 *       size; keep the top k; renormalise; draw.
 * </ul>
 *
 * Both then update {@code μ ← μ − η·(−log2 p(chosen) − τ)}, with μ starting at 2τ, through {@link
 * MuState}. As in llama.cpp, Mirostat is a whole sampling method: it replaces top-k/top-p and
 * draws the token itself, so it ends a {@code pipeline}; temperature before it is fine.
 *
 * <p>Differences, all at llama.cpp's undefined edges: the candidates are ordered logit
 * descending, token id ascending (llama.cpp leaves ties in sort order); v1's k is clamped to
 * {@code [1, candidates]} where llama.cpp converts a NaN or huge float to int (undefined
 * behaviour, in practice k = 1); arithmetic is in double. The draw uses the sequence's
 * counter-based random stream 1024, so a seed gives the same tokens in {@code Sample} and {@code
 * Session}; in {@code Sample} μ starts at 2τ on every call (no sequence to keep it in).
 */
final class MirostatSelector implements StatefulSelector<MuState> {
  /** The random stream of the draw (plugins use streams from 1024 up). */
  static final int STREAM = 1024;

  private static final ParamSpec TAU = ParamSpec.number("tau",
      "Target surprise in bits (cross-entropy per token); μ starts at 2·tau. llama.cpp: 5.")
      .withDefault(5.0).withRange(0, false, Double.POSITIVE_INFINITY, false);
  private static final ParamSpec ETA = ParamSpec.number("eta",
      "Learning rate of μ. llama.cpp: 0.1.")
      .withDefault(0.1).withRange(0, true, Double.POSITIVE_INFINITY, false);
  private static final ParamSpec M = ParamSpec.integer("m",
      "Tokens used to estimate the Zipf exponent (v1 only). llama.cpp: 100.")
      .withDefault(100L).withRange(2, 1_000_000);

  /** {@code mirostat}: Mirostat 1.0. */
  static final SelectorFactory V1 = factory("mirostat", false,
      "Mirostat 1.0 (llama.cpp mirostat): top-k with k from the estimated Zipf exponent and the"
          + " per-sequence target surprise mu, then a seeded draw; mu learns towards tau.",
      List.of(TAU, ETA, M));

  /** {@code mirostat_v2}: Mirostat 2.0. */
  static final SelectorFactory V2 = factory("mirostat_v2", true,
      "Mirostat 2.0 (llama.cpp mirostat-v2): keeps the tokens whose surprise -log2 p is at most"
          + " the per-sequence mu, then a seeded draw; mu learns towards tau.",
      List.of(TAU, ETA));

  private final boolean v2;
  private final float tau;
  private final float eta;
  private final int m;

  MirostatSelector(boolean v2, float tau, float eta, int m) {
    this.v2 = v2;
    this.tau = tau;
    this.eta = eta;
    this.m = m;
  }

  @Override
  public MuState newState(TokenHistory history) {
    return new MuState(tau, eta);
  }

  @Override
  public int select(Candidates c, SamplingContext context, MuState state) {
    c.sort(); // canonical order, -inf dropped: position 0 is the most likely token
    int n = c.size();
    float mu = state.mu();
    if (v2) {
      double lse = c.logSumExp();
      int keep = 0;
      while (keep < n && surprise(c.logit(c.id(keep)) - lse) <= mu) {
        keep++;
      }
      c.truncate(Math.max(keep, 1));
    } else {
      c.truncate(topK(c, n, mu));
    }
    double lse = c.logSumExp();
    double u = context.random(STREAM);
    int chosen = c.id(c.size() - 1);
    double cumulative = 0;
    for (int i = 0; i < c.size(); i++) {
      cumulative += Math.exp(c.logit(c.id(i)) - lse);
      if (u < cumulative) {
        chosen = c.id(i);
        break;
      }
    }
    state.drew(chosen, (float) surprise(c.logit(chosen) - lse));
    return chosen;
  }

  /** v1: k from the Zipf exponent estimated over the best {@code m} candidates, in [1, n]. */
  private int topK(Candidates c, int n, float mu) {
    double lse = c.logSumExp();
    double sumTiBi = 0;
    double sumTiSq = 0;
    for (int i = 0; i < m - 1 && i < n - 1; i++) {
      double ti = Math.log((i + 2) / (double) (i + 1));
      // ln(p_i / p_(i+1)) = logit_i - logit_(i+1): no probabilities needed
      double bi = (c.logit(c.id(i)) - lse) - (c.logit(c.id(i + 1)) - lse);
      sumTiBi += ti * bi;
      sumTiSq += ti * ti;
    }
    double sHat = sumTiBi / sumTiSq;
    double epsilonHat = sHat - 1;
    double k = Math.pow(epsilonHat * Math.pow(2, mu)
        / (1 - Math.pow(c.vocabSize(), -epsilonHat)), 1 / sHat);
    if (!(k >= 1)) { // NaN (one candidate, flat distribution) or below 1
      return 1;
    }
    return k >= n ? n : (int) k;
  }

  /** Surprise in bits of a token with natural log-probability {@code logp}. */
  static double surprise(double logp) {
    return -logp / Math.log(2);
  }

  private static SelectorFactory factory(String name, boolean v2, String description,
      List<ParamSpec> params) {
    return new SelectorFactory() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String description() {
        return description;
      }

      @Override
      public List<ParamSpec> params() {
        return params;
      }

      @Override
      public TokenSelector create(Params p) {
        return new MirostatSelector(v2, (float) p.getDouble("tau"), (float) p.getDouble("eta"),
            v2 ? 100 : p.getInt("m"));
      }
    };
  }
}
