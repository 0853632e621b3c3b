package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import java.util.Arrays;
import java.util.List;

/**
 * Truncation samplers: top-k, top-p, min-p, typical-p and top-n-sigma. Each keeps a subset of the
 * candidates and never re-scales the survivors' logits, so later stages see them as they were.
 * Probabilities are the softmax over the current candidates.
 */
final class Truncation {
  private Truncation() {}

  /**
   * Keeps exactly k tokens, ordered by logit descending then token id ascending (DESIGN §3;
   * llama.cpp {@code top_k}, whose unstable partial sort leaves ties unspecified; unlike HF and
   * vLLM, which keep every tie of the k-th value). k ≥ candidates: no-op (the convenience field's
   * 0 / −1 add no stage).
   */
  static final ProcessorFactory TOP_K = Factories.processor("top_k",
      "Keeps exactly the k most likely tokens (ties to the lower token id).",
      List.of(ParamSpec.integer("k", "How many tokens to keep, >= 1.")
          .withRange(1, Integer.MAX_VALUE).asRequired()),
      p -> {
        int k = p.getInt("k");
        return (c, ctx) -> c.keepTop(k);
      });

  /**
   * Nucleus sampling (Holtzman et al. 2019), llama.cpp's rule with the mass counted exactly: in
   * canonical order (logit descending, token id ascending), keep the shortest prefix whose
   * probability mass reaches p (≥), at least one token; mass in {@link Candidates#weight} units,
   * whose integer sums are the same in any order, so no sort of the nucleus is needed. p = 1:
   * no-op. Exact boundaries land where real arithmetic puts them, as both anchors' tests expect: a
   * prefix within 2^-20 of p (relative) counts as reaching it, because the rounding of the inputs
   * (logits that are logs of decimal probabilities) otherwise decides the side at random — HF's
   * {0.5, 0.3, 0.1, 0.1} and llama.cpp's {0.4, 0.3, 0.2, 0.1} both keep two tokens.
   */
  static final ProcessorFactory TOP_P = Factories.processor("top_p",
      "Keeps the shortest most-likely prefix whose probability mass reaches p (nucleus sampling).",
      List.of(ParamSpec.number("p", "Probability mass to keep, in (0, 1]; 1 = off.")
          .withDefault(1.0).withRange(0, false, 1, true)),
      p -> new TopP((float) p.getDouble("p")));

  /**
   * Keeps tokens with {@code p ≥ min_p · p_max}, computed as llama.cpp does in logit space: {@code
   * logit ≥ max_logit + ln(min_p)} (vLLM, HF {@code MinPLogitsWarper}, llama.cpp {@code min_p}).
   * 0 = off; the most likely token always survives. Ties: the bound is inclusive, so every token
   * tied at it survives.
   */
  static final ProcessorFactory MIN_P = Factories.processor("min_p",
      "Keeps tokens with probability >= min_p * the top probability.",
      List.of(ParamSpec.number("min_p", "Fraction of the top probability, in [0, 1]; 0 = off.")
          .withDefault(0.0).withRange(0, 1)),
      p -> {
        float minP = (float) p.getDouble("min_p");
        return (c, ctx) -> {
          if (minP > 0f) {
            c.retainAtLeast((float) (c.maxLogit() + Math.log(minP)));
          }
        };
      });

  /**
   * Keeps tokens with {@code logit ≥ max − n·σ}, σ the population standard deviation of the finite
   * candidate logits (Tang et al. 2024; llama.cpp {@code top_n_sigma}). n ≤ 0: no-op (llama.cpp
   * since PR #13345). Ties: the bound is inclusive.
   */
  static final ProcessorFactory TOP_N_SIGMA = Factories.processor("top_n_sigma",
      "Keeps tokens whose logit is within n standard deviations of the largest (top-n-sigma).",
      List.of(ParamSpec.number("n", "Number of standard deviations; <= 0 = off.")
          .withDefault(-1.0)),
      p -> new TopNSigma((float) p.getDouble("n")));

  /**
   * Locally typical sampling (Meister et al. 2022), llama.cpp's rule: with entropy H, order tokens
   * by {@code |−ln p − H|} ascending (ties to the lower id) and keep them until the running mass
   * exceeds p (strict), at least one token. p = 1: no-op.
   */
  static final ProcessorFactory TYPICAL_P = Factories.processor("typical_p",
      "Keeps the tokens whose surprise is closest to the entropy, until their mass exceeds p (locally typical sampling).",
      List.of(ParamSpec.number("p", "Probability mass to keep, in (0, 1]; 1 = off.")
          .withDefault(1.0).withRange(0, false, 1, true)),
      p -> new TypicalP((float) p.getDouble("p")));

  private static final class TopP implements LogitsProcessor {
    // A prefix this close below p (relative) reaches it: see TOP_P.
    private static final double BOUNDARY_SLACK = 0x1p-20;

    private final float p;
    private final double reached;

    TopP(float p) {
      this.p = p;
      this.reached = p - p * BOUNDARY_SLACK;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      if (p < 1f) {
        c.keepMass(reached);
      }
    }
  }

  private static final class TopNSigma implements LogitsProcessor {
    private final float n;

    TopNSigma(float n) {
      this.n = n;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      if (n <= 0f) {
        return;
      }
      double sum = 0;
      double sumSquares = 0;
      int count = 0;
      float max = Float.NEGATIVE_INFINITY;
      for (int i = 0; i < c.size(); i++) {
        float l = c.logit(c.id(i));
        if (l != Float.NEGATIVE_INFINITY) {
          sum += l;
          sumSquares += (double) l * l;
          count++;
          max = Math.max(max, l);
        }
      }
      if (count <= 1) {
        return;
      }
      double mean = sum / count;
      double std = Math.sqrt(Math.max(0, sumSquares / count - mean * mean));
      c.retainAtLeast((float) (max - n * std));
    }
  }

  private static final class TypicalP implements LogitsProcessor {
    private final float p;

    TypicalP(float p) {
      this.p = p;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      if (p >= 1f) {
        return;
      }
      c.compact();
      int n = c.size();
      if (n <= 1) {
        return;
      }
      double lse = c.logSumExp();
      double entropy = 0;
      for (int i = 0; i < n; i++) {
        double logp = c.logit(c.id(i)) - lse;
        entropy -= Math.exp(logp) * logp;
      }
      // Order by score as sortable longs: a non-negative float's bits order like the float, and
      // the low half breaks ties by token id.
      long[] keys = c.scratchLongs(n);
      for (int i = 0; i < n; i++) {
        int id = c.id(i);
        float score = (float) Math.abs(-(c.logit(id) - lse) - entropy);
        keys[i] = ((long) Float.floatToIntBits(score) << 32) | id;
      }
      Arrays.sort(keys, 0, n);
      float cumulative = 0f;
      int keep = n;
      for (int i = 0; i < n; i++) {
        int id = (int) keys[i];
        cumulative += (float) Math.exp(c.logit(id) - lse);
        if (cumulative > p) {
          keep = i + 1;
          break;
        }
      }
      int[] ids = c.scratchInts(keep);
      for (int i = 0; i < keep; i++) {
        ids[i] = (int) keys[i];
      }
      c.retain(ids, keep, false);
    }
  }
}
