package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import java.util.List;

/**
 * XTC, "Exclude Top Choices" (p-e-w, text-generation-webui PR #6335): llama.cpp's {@code xtc}
 * sampler ({@code llama_sampler_init_xtc(probability, threshold, min_keep, seed)}), matching
 * {@code llama_sample_xtc_apply}.
 *
 * <p><b>Rule.</b> With probability {@code probability} per step, the stage fires: with p the
 * softmax over the current candidates (float32, as llama.cpp), the "top choices" are the
 * candidates with {@code p ≥ threshold}. If there are at least two, all of them but the least
 * likely one are removed, so the least likely top choice and the tail stay. Nothing else changes:
 * survivors keep their logits (llama.cpp leaves p un-renormalised; the draw renormalises, as here).
 * The removal is skipped when it would leave fewer than {@code min_keep} candidates.
 *
 * <p><b>Disabled values.</b> {@code probability = 0} (the default, llama.cpp's {@code
 * xtc_probability} default) is off; {@code threshold > 0.5} is a no-op (llama.cpp checks it
 * explicitly: at most one token can exceed it); fewer than two candidates: no-op. {@code min_keep}
 * 0 and 1 behave alike, since the least likely top choice always stays.
 *
 * <p><b>Randomness.</b> The stage fires when {@code u < probability}, u the sequence's
 * counter-based uniform for this step on stream {@value #STREAM} ({@link
 * SamplingContext#random(int)}): a pure function of (seed, output tokens so far), independent of
 * the final draw's stream 0, so a request replays exactly. {@code probability = 1} always fires.
 * llama.cpp draws from its own {@code mt19937} instead, so which steps fire differs from llama.cpp
 * for the same seed; the rule applied when it fires is the same.
 *
 * <p><b>Ties.</b> Top choices are ordered canonically (logit descending, then token id
 * ascending); the one kept is the last in that order — the lowest logit, and among equal logits
 * the highest id. llama.cpp's sort is not stable, so its choice among exact ties is unspecified.
 * No sort happens here: one pass finds the top choices and the one to keep.
 */
final class Xtc implements LogitsProcessor {
  /**
   * The random stream XTC draws from. Stream 0 is the final draw's; built-ins own streams 1 to
   * 1023, plugins use 1024 and up (see {@link SamplingContext#random(int)}).
   */
  static final int STREAM = 1;

  static final ProcessorFactory FACTORY = Factories.processor("xtc",
      "Exclude Top Choices: with some probability, removes every token with p >= threshold but the least likely of them (llama.cpp xtc).",
      List.of(
          ParamSpec.number("probability", "Chance per step that XTC fires, in [0, 1]; 0 = off.")
              .withDefault(0.0).withRange(0, 1),
          ParamSpec.number("threshold", "Probability a token needs to count as a top choice, in [0, 1]; > 0.5 = off.")
              .withDefault(0.1).withRange(0, 1),
          ParamSpec.integer("min_keep", "Skip the removal when it would leave fewer candidates than this.")
              .withDefault(1L).withRange(0, Integer.MAX_VALUE)),
      p -> new Xtc((float) p.getDouble("probability"), (float) p.getDouble("threshold"),
          p.getInt("min_keep")));

  private final float probability;
  private final float threshold;
  private final int minKeep;

  Xtc(float probability, float threshold, int minKeep) {
    this.probability = probability;
    this.threshold = threshold;
    this.minKeep = minKeep;
  }

  @Override
  public void apply(Candidates c, SamplingContext context) {
    if (probability <= 0f || threshold > 0.5f) {
      return;
    }
    if (!(context.random(STREAM) < probability)) {
      return;
    }
    double lse = c.logSumExp();
    int live = 0;
    int top = 0;
    int keep = -1; // the least likely top choice: lowest logit, then highest id
    float keepLogit = Float.POSITIVE_INFINITY;
    for (int i = 0, n = c.size(); i < n; i++) {
      int id = c.id(i);
      float l = c.logit(id);
      if (l == Float.NEGATIVE_INFINITY) {
        continue;
      }
      live++;
      if (isTopChoice(l, lse)) {
        top++;
        if (l < keepLogit || (l == keepLogit && id > keep)) {
          keep = id;
          keepLogit = l;
        }
      }
    }
    if (live < 2 || top < 2 || live - (top - 1) < minKeep) {
      return;
    }
    for (int i = 0, n = c.size(); i < n; i++) {
      int id = c.id(i);
      float l = c.logit(id);
      if (id != keep && l != Float.NEGATIVE_INFINITY && isTopChoice(l, lse)) {
        c.remove(id);
      }
    }
  }

  private boolean isTopChoice(float logit, double lse) {
    return (float) Math.exp(logit - lse) >= threshold;
  }
}
