package dev.tally.core.processor;

import static dev.tally.core.processor.Anchors.assertProbabilities;
import static dev.tally.core.processor.Anchors.context;
import static dev.tally.core.processor.Anchors.create;
import static dev.tally.core.processor.Anchors.ids;
import static dev.tally.core.processor.Anchors.llamaLogits;
import static dev.tally.core.processor.Anchors.logitsAfter;
import static dev.tally.core.processor.Anchors.pipeline;
import static dev.tally.core.processor.Anchors.probabilities;
import static dev.tally.core.processor.Anchors.removed;
import static dev.tally.core.processor.Anchors.sequences;
import static dev.tally.core.processor.Anchors.stage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.random.CounterRandom;
import dev.tally.core.registry.RegisteredFactory;
import dev.tally.core.testing.Sampling;
import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The processors added for issue 3 — dynamic_temperature, epsilon_cutoff, eta_cutoff, xtc,
 * no_repeat_ngram, bad_words, sequence_bias — beyond the anchors' published vectors: their
 * formulas with non-trivial parameters, disabled values, tie rules, randomness and cost.
 */
final class NewProcessorsTest {
  private static final double TOL = 1e-6;
  private static final float[] P4 = {0.1f, 0.2f, 0.3f, 0.4f};

  private static TokenLog prompt(int... ids) {
    return TokenLog.of(ids, new int[0]);
  }

  private static TokenLog history(int[] prompt, int[] output) {
    return TokenLog.of(prompt, output);
  }

  // ---- dynamic_temperature ---------------------------------------------------------------------

  /** softmax(logits / T) over the finite logits, as id, probability pairs. */
  private static double[] tempered(float[] logits, double t) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l / t);
    }
    double sum = 0;
    for (float l : logits) {
      sum += Math.exp(l / t - max);
    }
    double[] out = new double[2 * logits.length];
    for (int i = 0; i < logits.length; i++) {
      out[2 * i] = i;
      out[2 * i + 1] = Math.exp(logits[i] / t - max) / sum;
    }
    return out;
  }

  /** llama.cpp temp_ext's temperature for probabilities p. */
  private static double dynamicTemperature(double[] p, double t, double delta, double exponent) {
    double h = 0;
    for (double x : p) {
      h -= x * Math.log(x);
    }
    double lo = Math.max(0, t - delta);
    double hi = t + delta;
    return lo + (hi - lo) * Math.pow(h / Math.log(p.length), exponent);
  }

  @Test
  void dynamicTemperatureFollowsTheEntropyFormula() {
    double[] p = {0.1, 0.2, 0.3, 0.4};
    float[] logits = llamaLogits(P4);
    double[][] cases = {{1.0, 0.5, 1.0}, {0.8, 0.3, 2.0}, {0.3, 0.5, 1.0}, {1.0, 0.5, 0.0}};
    for (double[] k : cases) {
      double tDyn = dynamicTemperature(p, k[0], k[1], k[2]);
      assertProbabilities(probabilities(pipeline(stage("dynamic_temperature", "temperature", k[0],
          "delta", k[1], "exponent", k[2])), logits), 1e-5, tempered(logits, tDyn));
    }
    // H = ln 4 (4 values of 1.0): the flat distribution gets the top of the range, T + delta.
    assertProbabilities(probabilities(pipeline(stage("dynamic_temperature", "temperature", 0.7,
        "delta", 0.2)), 0f, 0f, 0f, 0f), TOL, 0, 0.25, 1, 0.25, 2, 0.25, 3, 0.25);
    // With T < delta the low end is 0, not T - delta: exponent 0 makes T_dyn = T + delta.
    float[] l = {2f, 1f, 0f};
    assertProbabilities(probabilities(pipeline(stage("dynamic_temperature", "temperature", 0.3,
        "delta", 0.5, "exponent", 0.0)), l), 1e-5, tempered(l, 0.8));
  }

  @Test
  void dynamicTemperatureCountsOnlyLiveCandidates() {
    // Token 3 banned first: N = 3 and H over {0.1, 0.2, 0.3} renormalised.
    double[] p = {1 / 6.0, 2 / 6.0, 3 / 6.0};
    double tDyn = dynamicTemperature(p, 1.0, 0.5, 1.0);
    float[] logits = llamaLogits(P4);
    double[] expected = tempered(new float[] {logits[0], logits[1], logits[2]}, tDyn);
    assertProbabilities(probabilities(pipeline(stage("banned_tokens", "token_ids", ids(3)),
        stage("dynamic_temperature", "delta", 0.5)), logits), 1e-5, expected);
    // One candidate left: a no-op, even with delta > 0.
    assertProbabilities(probabilities(pipeline(stage("top_k", "k", 1.0),
        stage("dynamic_temperature", "temperature", 0.1, "delta", 0.5)), logits), TOL, 3, 1.0);
  }

  @Test
  void dynamicTemperatureZeroKeepsTheArgmaxWithTiesToTheLowestId() {
    assertThat(Sampling.survivors(pipeline(stage("dynamic_temperature", "temperature", 0.0)),
        1f, 5f, 5f, 2f).keySet()).containsExactly(1);
  }

  // ---- epsilon_cutoff / eta_cutoff -------------------------------------------------------------

  @Test
  void epsilonKeepsTiesAtTheCutoffAndTheFloorInCanonicalOrder() {
    // p = {0.25, 0.25, 0.25, 0.25}: p >= 0.25 keeps all (inclusive cutoff).
    assertThat(Sampling.survivors(pipeline(stage("epsilon_cutoff", "epsilon", 0.25)),
        0f, 0f, 0f, 0f)).hasSize(4);
    // Nothing reaches 0.5: the floor keeps exactly min_tokens_to_keep, ties to the lower id (HF
    // would keep every token tied with the k-th best).
    assertThat(Sampling.survivors(pipeline(stage("epsilon_cutoff", "epsilon", 0.5,
        "min_tokens_to_keep", 2.0)), 0f, 0f, 0f, -10f).keySet()).containsExactly(0, 1);
    assertThat(Sampling.survivors(pipeline(stage("epsilon_cutoff", "epsilon", 0.5)),
        0f, 0f, 0f, -10f).keySet()).containsExactly(0);
    // A floor above the candidate count keeps them all.
    assertThat(Sampling.survivors(pipeline(stage("epsilon_cutoff", "epsilon", 0.9,
        "min_tokens_to_keep", 10.0)), 1f, 0f, -1f).keySet()).containsExactly(0, 1, 2);
    // Probabilities are over the current candidates: with 0 banned, {0.3, 0.2, 0.1} / 0.6.
    assertThat(Sampling.survivors(pipeline(stage("banned_tokens", "token_ids", ids(3)),
        stage("epsilon_cutoff", "epsilon", 0.3)), llamaLogits(P4)).keySet()).containsExactly(2, 1);
    // Default epsilon 0: off.
    assertThat(Sampling.survivors(pipeline(stage("epsilon_cutoff")), llamaLogits(P4))).hasSize(4);
  }

  @Test
  void etaCutoffIsMinOfEpsilonAndSqrtEpsilonTimesExpMinusEntropy() {
    // p = {0.1, 0.2, 0.3, 0.4}: H = 1.2799 nats, e^-H = 0.27807.
    double h = 0;
    for (double x : new double[] {0.1, 0.2, 0.3, 0.4}) {
      h -= x * Math.log(x);
    }
    assertThat(Math.exp(-h)).isCloseTo(0.27807, within(1e-5));
    float[] logits = llamaLogits(P4);
    // epsilon 0.05: eta = min(0.05, 0.0622) = 0.05, all stay.
    assertThat(Sampling.survivors(eta(0.05), logits)).hasSize(4);
    // epsilon 0.09: eta = min(0.09, 0.0834) = 0.0834 < 0.1, all stay although 0.09 < 0.1 too.
    assertThat(Sampling.survivors(eta(0.09), logits)).hasSize(4);
    // epsilon 0.2: eta = min(0.2, 0.1244) = 0.1244: 0.1 goes, 0.2 stays (epsilon alone would
    // remove it: p < 0.2 is false for 0.2 only by the inclusive rule, so compare 0.35 next).
    assertThat(Sampling.survivors(eta(0.2), logits).keySet()).containsExactly(3, 2, 1);
    // epsilon 0.35: eta = min(0.35, 0.1645) = 0.1645: 0.2 stays where epsilon_cutoff removes it.
    assertThat(Sampling.survivors(eta(0.35), logits).keySet()).containsExactly(3, 2, 1);
    assertThat(Sampling.survivors(pipeline(stage("epsilon_cutoff", "epsilon", 0.35)), logits)
        .keySet()).containsExactly(3);
    // epsilon 0.9: eta = min(0.9, 0.2638) = 0.2638: {0.4, 0.3} stay.
    assertThat(Sampling.survivors(eta(0.9), logits).keySet()).containsExactly(3, 2);
    assertThat(Sampling.survivors(pipeline(stage("eta_cutoff")), logits)).hasSize(4);
  }

  private static SamplingConfig eta(double epsilon) {
    return pipeline(stage("eta_cutoff", "epsilon", epsilon));
  }

  // ---- xtc -------------------------------------------------------------------------------------

  @Test
  void xtcFiresWhenTheUniformOnItsOwnStreamIsBelowTheProbability() {
    float[] logits = llamaLogits(0.4f, 0.3f, 0.2f, 0.1f);
    SamplingConfig c = pipeline(stage("xtc", "probability", 0.5, "threshold", 0.15));
    int fired = 0;
    for (long seed = 0; seed < 200; seed++) {
      for (int produced : new int[] {0, 3}) {
        boolean fires = CounterRandom.uniform(seed, produced, Xtc.STREAM) < 0.5;
        fired += fires ? 1 : 0;
        RowResult r = Sampling.sample(c.explain(true), history(new int[] {1}, new int[produced]),
            seed, logits);
        assertThat(r.stages().get(0).candidates).as("seed %d, counter %d", seed, produced)
            .isEqualTo(fires ? 2 : 4); // fired: {0.2, 0.1} remain
      }
    }
    assertThat(fired).isBetween(160, 240);
    assertThat(Xtc.STREAM).isNotZero(); // never the final draw's stream
  }

  @Test
  void xtcKeepsTheLeastLikelyTopChoiceWithTiesToTheHighestId() {
    // Two tokens at exactly 0.5 >= threshold 0.5: the last in canonical order (id 1) stays.
    assertThat(Sampling.survivors(pipeline(stage("xtc", "probability", 1.0, "threshold", 0.5)),
        0f, 0f).keySet()).containsExactly(1);
    // threshold 0: every token is a top choice; only the least likely survives.
    assertThat(Sampling.survivors(pipeline(stage("xtc", "probability", 1.0, "threshold", 0.0)),
        llamaLogits(P4)).keySet()).containsExactly(0);
    // threshold > 0.5: no-op (llama.cpp's explicit check).
    assertThat(Sampling.survivors(pipeline(stage("xtc", "probability", 1.0, "threshold", 0.51)),
        0f, 0f)).hasSize(2);
  }

  @Test
  void xtcMinKeepSkipsARemovalThatWouldLeaveTooFew() {
    float[] logits = llamaLogits(0.4f, 0.3f, 0.2f, 0.1f);
    assertThat(Sampling.survivors(pipeline(stage("xtc", "probability", 1.0, "threshold", 0.09,
        "min_keep", 2.0)), logits)).hasSize(4);
    assertThat(Sampling.survivors(pipeline(stage("xtc", "probability", 1.0, "threshold", 0.09,
        "min_keep", 1.0)), logits).keySet()).containsExactly(3);
    assertThat(Sampling.survivors(pipeline(stage("xtc", "probability", 1.0, "threshold", 0.19,
        "min_keep", 2.0)), logits).keySet()).containsExactly(2, 3);
    // Defaults: probability 0, off.
    assertThat(Sampling.survivors(pipeline(stage("xtc")), logits)).hasSize(4);
  }

  // ---- no_repeat_ngram -------------------------------------------------------------------------

  @Test
  void noRepeatNgramSpansPromptAndOutput() {
    float[] flat = new float[6];
    // (2, 3) occurs across the prompt/output boundary; the suffix is (2): ban 3 (and 4, from (2, 4)).
    assertThat(removed(pipeline(stage("no_repeat_ngram", "ngram_size", 2.0)),
        history(new int[] {1, 2}, new int[] {3, 2, 4, 2}), flat)).containsExactly(3, 4);
    // n = 1 bans every token that occurred.
    assertThat(removed(pipeline(stage("no_repeat_ngram", "ngram_size", 1.0)),
        history(new int[] {5}, new int[] {1, 1}), flat)).containsExactly(1, 5);
    // Off by default, and with an empty history.
    assertThat(removed(pipeline(stage("no_repeat_ngram")), prompt(1, 1, 1), flat)).isEmpty();
    assertThat(removed(pipeline(stage("no_repeat_ngram", "ngram_size", 1.0)), TokenLog.empty(),
        flat)).isEmpty();
  }

  // ---- bad_words / sequence_bias ---------------------------------------------------------------

  @Test
  void badWordsMatchTheEndOfPromptPlusOutput() {
    float[] flat = new float[6];
    SamplingConfig c = pipeline(stage("bad_words", "sequences",
        sequences(new int[] {5}, new int[] {1, 2, 3})));
    assertThat(removed(c, TokenLog.empty(), flat)).containsExactly(5); // single tokens: always
    c = pipeline(stage("bad_words", "sequences", sequences(new int[] {5}, new int[] {1, 2, 3})));
    assertThat(removed(c, history(new int[] {0, 1}, new int[] {2}), flat)).containsExactly(3, 5);
    // A 3-token sequence whose 2-token prefix is the whole history applies (#20; HF skips it),
    // and one whose prefix is longer than the history cannot.
    c = pipeline(stage("bad_words", "sequences", sequences(new int[] {1, 2, 3})));
    assertThat(removed(c, history(new int[] {1}, new int[] {2}), flat)).containsExactly(3);
    c = pipeline(stage("bad_words", "sequences", sequences(new int[] {1, 2, 3})));
    assertThat(removed(c, history(new int[] {}, new int[] {2}), flat)).isEmpty();
    // Without eos_token_ids a single-token [4] is a plain ban.
    c = pipeline(stage("bad_words", "sequences", sequences(new int[] {4})));
    assertThat(removed(c, prompt(0), flat)).containsExactly(4);
    // A multi-token sequence ending in an EOS id still applies (HF drops only [eos]).
    c = pipeline(stage("bad_words", "sequences", sequences(new int[] {0, 4}),
        "eos_token_ids", ids(4)));
    assertThat(removed(c, prompt(3, 0), flat)).containsExactly(4);
    c = pipeline(stage("bad_words", "sequences", sequences(new int[] {0, 4}),
        "eos_token_ids", ids(4)));
    assertThat(removed(c, prompt(0), flat)).containsExactly(4); // the prefix [0] is the history
    c = pipeline(stage("bad_words", "sequences", sequences(new int[] {0, 4}),
        "eos_token_ids", ids(4)));
    assertThat(removed(c, TokenLog.empty(), flat)).isEmpty(); // a prefix of 1 > a history of 0
  }

  @Test
  void sequenceBiasSumsEveryApplicableSequenceOnceEach() {
    LogitsProcessor p = create("sequence_bias", "sequences",
        sequences(new int[] {2}, new int[] {1, 2}, new int[] {2}, new int[] {9, 2}), "bias", 1.5);
    // [2] counts once although listed twice; [1, 2] applies after 1; [9, 2] does not.
    assertThat(logitsAfter(prompt(0, 1), new float[] {0, 0, 0}, p))
        .containsExactly(0f, 0f, 3f);
    assertThat(logitsAfter(prompt(0, 3), new float[] {0, 0, 0}, p)).containsExactly(0f, 0f, 1.5f);
    // [1, 2] applies when its prefix [1] is the whole history (#20; HF waits one more token).
    assertThat(logitsAfter(prompt(1), new float[] {0, 0, 0}, p)).containsExactly(0f, 0f, 3f);
    assertThat(logitsAfter(TokenLog.empty(), new float[] {0, 0, 0}, p))
        .containsExactly(0f, 0f, 1.5f);
    // -inf stays -inf.
    assertThat(logitsAfter(prompt(0, 1), new float[] {0, 0, Float.NEGATIVE_INFINITY}, p)[2])
        .isEqualTo(Float.NEGATIVE_INFINITY);
    // bias 0: a no-op.
    assertThat(logitsAfter(prompt(1), new float[] {0, 0, 1},
        create("sequence_bias", "sequences", sequences(new int[] {2}), "bias", 0.0)))
        .containsExactly(0f, 0f, 1f);
  }

  @Test
  void tokenSequencesAreCheckedAgainstTheVocabulary() {
    Chain chain = Sampling.compile(pipeline(stage("top_k", "k", 2.0),
        stage("bad_words", "sequences", sequences(new int[] {1}, new int[] {2, 7, 3}))));
    chain.checkVocabulary(8);
    assertThatThrownBy(() -> chain.checkVocabulary(7)).isInstanceOfSatisfying(
        TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
          assertThat(e.field()).isEqualTo("pipeline[1].params.sequences");
          assertThat(e.getMessage()).contains("7");
        });
    RowResult r = Sampling.sampleRaw(pipeline(stage("sequence_bias",
        "sequences", sequences(new int[] {9}), "bias", 1.0)), TokenLog.empty(), 1, 0f, 0f);
    assertThat(r.failed()).isTrue();
    assertThat(r.error().field()).isEqualTo("pipeline[0].params.sequences");
  }

  // ---- catalogue and cost ----------------------------------------------------------------------

  private static final List<String> NEW = List.of("dynamic_temperature", "epsilon_cutoff",
      "eta_cutoff", "xtc", "no_repeat_ngram", "bad_words", "sequence_bias");

  @Test
  void everyNewProcessorHasAFullSchemaAndOptionalParametersHaveDefaults() {
    for (String name : NEW) {
      RegisteredFactory f = Sampling.BUILTINS.lookup(name, "x");
      assertThat(f.description()).as(name).isNotBlank();
      for (ParamSpec p : f.params()) {
        assertThat(p.description()).as(name + "." + p.name()).isNotBlank();
        assertThat(p.required() || p.defaultValue() != null).as(name + "." + p.name()).isTrue();
      }
    }
    // Naming a stage alone works wherever nothing is required, and its defaults are "off".
    for (String name : List.of("dynamic_temperature", "epsilon_cutoff", "eta_cutoff", "xtc",
        "no_repeat_ngram")) {
      assertThat(Sampling.survivors(pipeline(stage(name)), prompt(1, 1, 1), 1f, 2f, 3f))
          .as(name).hasSize(3);
    }
  }

  @Test
  void theNewProcessorsAllocateNothingPerRow() {
    java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
    if (!(bean instanceof com.sun.management.ThreadMXBean)) {
      return;
    }
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) bean;
    if (!threads.isThreadAllocatedMemorySupported() || !threads.isThreadAllocatedMemoryEnabled()) {
      return;
    }
    int vocab = 4096;
    float[] logits = new float[vocab];
    java.util.Random rnd = new java.util.Random(3);
    for (int i = 0; i < vocab; i++) {
      logits[i] = (float) rnd.nextGaussian();
    }
    TokenHistory h = history(new int[] {1, 2, 3, 1, 2}, new int[] {3, 1, 2});
    SamplingContext ctx = new SamplingContext() { // no allocation of its own
      @Override
      public TokenHistory history() {
        return h;
      }

      @Override
      public long seed() {
        return 0;
      }

      @Override
      public double random(int stream) {
        return 0.25;
      }
    };
    Map<String, LogitsProcessor> processors = Map.of(
        "dynamic_temperature", create("dynamic_temperature", "delta", 0.5),
        "epsilon_cutoff", create("epsilon_cutoff", "epsilon", 3e-4, "min_tokens_to_keep", 5.0),
        "eta_cutoff", create("eta_cutoff", "epsilon", 3e-4),
        "xtc", create("xtc", "probability", 0.5, "threshold", 0.0001),
        "no_repeat_ngram", create("no_repeat_ngram", "ngram_size", 3.0),
        "bad_words", create("bad_words", "sequences", sequences(new int[] {7},
            new int[] {1, 2, 3}, new int[] {3, 1, 2, 9})),
        "sequence_bias", create("sequence_bias", "sequences", sequences(new int[] {7},
            new int[] {1, 2, 3}), "bias", -2.0));
    Candidates c = new Candidates();
    for (Map.Entry<String, LogitsProcessor> e : processors.entrySet()) {
      for (int warm = 0; warm < 2000; warm++) { // let the JIT settle (and size the scratch arrays)
        run(c, e.getValue(), ctx, logits);
      }
      long before = threads.getThreadAllocatedBytes(Thread.currentThread().getId());
      for (int i = 0; i < 200; i++) {
        run(c, e.getValue(), ctx, logits);
      }
      long bytes = threads.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
      assertThat(bytes).as("%s allocated %d bytes over 200 rows", e.getKey(), bytes)
          .isLessThan(200L * 16);
    }
  }

  private static void run(Candidates c, LogitsProcessor p, SamplingContext ctx, float[] logits) {
    c.reset(logits.length);
    System.arraycopy(logits, 0, c.logits(), 0, logits.length);
    p.apply(c, ctx);
  }

  @Test
  void contextHelperDrawsTheRowsCounterBasedNumbers() {
    TokenHistory h = history(new int[] {1}, new int[] {2, 3});
    assertThat(context(h, 42).random(Xtc.STREAM))
        .isEqualTo(CounterRandom.uniform(42, 2, Xtc.STREAM));
  }
}
