package dev.tally.core.processor;

import static dev.tally.core.processor.Anchors.assertProbabilities;
import static dev.tally.core.processor.Anchors.direct;
import static dev.tally.core.processor.Anchors.llamaLogits;
import static dev.tally.core.processor.Anchors.pipeline;
import static dev.tally.core.processor.Anchors.probabilities;
import static dev.tally.core.processor.Anchors.renormalised;
import static dev.tally.core.processor.Anchors.stage;
import static dev.tally.core.processor.Anchors.stageCounts;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.random.CounterRandom;
import dev.tally.core.testing.Sampling;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.Params;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The published expectations of llama.cpp's sampler tests, reproduced by token id.
 *
 * <p>Source: repository {@code ggml-org/llama.cpp}, file {@code tests/test-sampling.cpp} (stored
 * commit f0817df540977d3e3bd9038e7e108fa4f3b4bbde; the {@code top_n_sigma} order of a second
 * stored version, 07e4038f, is covered too). Each test names the function whose calls it
 * reproduces. llama.cpp builds the logits as {@code logf(p)} of float probabilities and checks each
 * candidate's probability within 1e-5 ({@code sampler_tester::check}); so do these tests, by token
 * id rather than array position, because llama.cpp's expected arrays are in whatever order the
 * stage left the array (sorted, unsorted or reordered by typicality).
 *
 * <p>Where llama.cpp's expected array is not renormalised (its {@code test_typical} and {@code
 * test_xtc} do not run {@code dist} afterwards), the comparison renormalises it: Tally reports
 * probabilities over the survivors, which is what llama.cpp's final {@code dist} draws from.
 */
final class LlamaCppSamplingAnchorsTest {
  /** llama.cpp's tolerance ({@code fabs(p - expected) < 1e-5}). */
  private static final double TOL = 1e-5;

  private static final float[] P4 = {0.1f, 0.2f, 0.3f, 0.4f};

  private static SamplingConfig config() {
    return new SamplingConfig();
  }

  // llama.cpp tests/test-sampling.cpp, test_temp(): T = 1 leaves the distribution alone, T = 0 is
  // greedy. llama.cpp's T = 0 keeps the array and masks all but the argmax; Tally compiles
  // temperature 0 to the greedy selector, whose processed top_logprobs hold the one certain token.
  @Test
  void temp() {
    assertProbabilities(probabilities(config().temperature(1f), llamaLogits(P4)), TOL,
        0, 0.1, 1, 0.2, 2, 0.3, 3, 0.4);
    assertProbabilities(probabilities(pipeline(stage("temperature", "temperature", 1.0)),
        llamaLogits(P4)), TOL, 0, 0.1, 1, 0.2, 2, 0.3, 3, 0.4);
    assertProbabilities(probabilities(config().temperature(0f), llamaLogits(P4)), TOL, 3, 1.0);
    assertThat(Sampling.sample(config().temperature(0f), llamaLogits(P4)).tokenId()).isEqualTo(3);
  }

  // llama.cpp tests/test-sampling.cpp, test_temp_ext(): with delta 0 the dynamic temperature is
  // the plain temperature: (1, 0, 1) is the identity and (0, 0, 1) keeps only the argmax.
  @Test
  void tempExt() {
    assertProbabilities(probabilities(pipeline(stage("dynamic_temperature",
        "temperature", 1.0, "delta", 0.0, "exponent", 1.0)), llamaLogits(P4)), TOL,
        0, 0.1, 1, 0.2, 2, 0.3, 3, 0.4);
    assertProbabilities(probabilities(pipeline(stage("dynamic_temperature",
        "temperature", 0.0, "delta", 0.0, "exponent", 1.0)), llamaLogits(P4)), TOL, 3, 1.0);
    // The defaults are (1, 0, 1): naming the stage alone is a no-op.
    assertProbabilities(probabilities(pipeline(stage("dynamic_temperature")), llamaLogits(P4)),
        TOL, 0, 0.1, 1, 0.2, 2, 0.3, 3, 0.4);
  }

  // llama.cpp tests/test-sampling.cpp, test_top_k(): k = 1, 3, 4 and 0 (off). Tally's top_k
  // parameter of the named stage must be >= 1; k = 0 is the convenience field's "off".
  @Test
  void topK() {
    float[] l = llamaLogits(P4);
    assertProbabilities(probabilities(config().topK(1), l), TOL, 3, 1.0);
    assertProbabilities(probabilities(config().topK(3), l), TOL, 3, 0.44444, 2, 0.33333,
        1, 0.22222);
    assertProbabilities(probabilities(pipeline(stage("top_k", "k", 3.0)), l), TOL,
        3, 0.44444, 2, 0.33333, 1, 0.22222);
    assertProbabilities(probabilities(config().topK(4), l), TOL, 3, 0.4, 2, 0.3, 1, 0.2, 0, 0.1);
    assertProbabilities(probabilities(config().topK(0), l), TOL, 0, 0.1, 1, 0.2, 2, 0.3, 3, 0.4);
  }

  // llama.cpp tests/test-sampling.cpp, test_top_p(): p = 0, 0.7, 0.8, 1. The boundary case 0.7
  // keeps {3, 2}: 0.4 + 0.3 reaches 0.7 in float32. Difference: llama.cpp accepts p = 0 (keeps
  // one token); Tally's top_p is in (0, 1] (DESIGN §3), so 0 is refused and the smallest float
  // above it keeps the same single token.
  @Test
  void topP() {
    float[] l = llamaLogits(P4);
    assertProbabilities(probabilities(config().topP(Float.MIN_VALUE), l), TOL, 3, 1.0);
    assertThat(refusal(config().topP(0f)).field()).isEqualTo("top_p");
    assertProbabilities(probabilities(config().topP(0.7f), l), TOL, 3, 0.571429, 2, 0.428571);
    assertProbabilities(probabilities(config().topP(0.8f), l), TOL, 3, 0.44444, 2, 0.33333,
        1, 0.22222);
    assertProbabilities(probabilities(config().topP(1f), l), TOL, 0, 0.1, 1, 0.2, 2, 0.3, 3, 0.4);
    assertProbabilities(probabilities(pipeline(stage("top_p", "p", 0.7)), l), TOL,
        3, 0.571429, 2, 0.428571);
  }

  // llama.cpp tests/test-sampling.cpp, test_min_p(): every threshold of the published table.
  // Difference: llama.cpp accepts min_p 1.05 (keeps the top token); Tally's min_p is in [0, 1].
  @Test
  void minP() {
    float[] l = llamaLogits(P4);
    for (float minP : new float[] {0.00f, 0.24f}) {
      assertProbabilities(probabilities(config().minP(minP), l), TOL,
          0, 0.1 / 1.0, 1, 0.2 / 1.0, 2, 0.3 / 1.0, 3, 0.4 / 1.0);
    }
    for (float minP : new float[] {0.26f, 0.49f}) {
      assertProbabilities(probabilities(config().minP(minP), l), TOL,
          1, 0.2 / 0.9, 2, 0.3 / 0.9, 3, 0.4 / 0.9);
    }
    for (float minP : new float[] {0.51f, 0.74f}) {
      assertProbabilities(probabilities(config().minP(minP), l), TOL, 2, 0.3 / 0.7, 3, 0.4 / 0.7);
    }
    for (float minP : new float[] {0.76f, 1.00f}) {
      assertProbabilities(probabilities(config().minP(minP), l), TOL, 3, 0.4 / 0.4);
    }
    assertThat(refusal(config().minP(1.05f)).field()).isEqualTo("min_p");
  }

  // llama.cpp tests/test-sampling.cpp, test_xtc(): probability 0.99 on {0.4, 0.3, 0.2, 0.1} with
  // thresholds 0.09, 0.19, 0.29 ("XTC should") and 0.39 ("XTC should not"), min_keep 0. XTC is
  // deterministic once it fires: llama.cpp's seed-0 mt19937 draw is <= 0.99; here the row's seed
  // (99, counter 0) gives u = 0.973 < 0.99 on XTC's stream, checked below, and probability 1 fires
  // always. llama.cpp leaves p un-renormalised ({0.1}, {0.2, 0.1}, …); compared renormalised.
  @Test
  void xtc() {
    assertThat(CounterRandom.uniform(99, 0, Xtc.STREAM)).isLessThan(0.99);
    float[] l = llamaLogits(0.4f, 0.3f, 0.2f, 0.1f);
    for (double probability : new double[] {0.99, 1.0}) {
      assertProbabilities(probabilities(xtc(probability, 0.09), l), TOL, 3, 1.0);
      assertProbabilities(probabilities(xtc(probability, 0.19), l), TOL,
          renormalised(2, 0.2, 3, 0.1));
      assertProbabilities(probabilities(xtc(probability, 0.29), l), TOL,
          renormalised(1, 0.3, 2, 0.2, 3, 0.1));
      assertProbabilities(probabilities(xtc(probability, 0.39), l), TOL,
          0, 0.4, 1, 0.3, 2, 0.2, 3, 0.1);
    }
    // And when the draw says no (u = 0.973 >= 0.5), nothing changes.
    assertProbabilities(probabilities(xtc(0.5, 0.09), l), TOL, 0, 0.4, 1, 0.3, 2, 0.2, 3, 0.1);
  }

  private static SamplingConfig xtc(double probability, double threshold) {
    return pipeline(stage("xtc", "probability", probability, "threshold", threshold,
        "min_keep", 0.0));
  }

  // llama.cpp tests/test-sampling.cpp, test_typical(): p = 0.5 on {0.97, 0.01, 0.01, 0.01} keeps
  // {0}; on {0.4, 0.2, 0.2, 0.2} keeps {1, 2, 3} (their surprise is nearest the entropy). llama.cpp
  // leaves p un-renormalised ({0.2, 0.2, 0.2}); compared renormalised.
  @Test
  void typical() {
    assertProbabilities(probabilities(config().typicalP(0.5f),
        llamaLogits(0.97f, 0.01f, 0.01f, 0.01f)), TOL, 0, 1.0);
    assertProbabilities(probabilities(config().typicalP(0.5f),
        llamaLogits(0.4f, 0.2f, 0.2f, 0.2f)), TOL, renormalised(1, 0.2, 2, 0.2, 3, 0.2));
    assertProbabilities(probabilities(pipeline(stage("typical_p", "p", 0.5)),
        llamaLogits(0.4f, 0.2f, 0.2f, 0.2f)), TOL, renormalised(1, 0.2, 2, 0.2, 3, 0.2));
  }

  // llama.cpp tests/test-sampling.cpp, test_penalties(): llama.cpp accepts the last tokens into the
  // sampler with penalty_last_n = their count, and counts them for all three penalties. Tally's
  // presence/frequency count output tokens only (DESIGN §3), so the accepted tokens are the
  // output here. Repeat penalty 50 runs as a request; frequency = presence = 5 is outside Tally's
  // validated [-2, 2] (OpenAI's range, refused below), so that stage is created straight from its
  // factory: the arithmetic, not the validation, is what the vector checks.
  @Test
  void penalties() {
    float[] l = llamaLogits(0.2f, 0.2f, 0.2f, 0.2f, 0.2f);
    TokenLog zero = output(0);
    TokenLog zeroOneTwo = output(0, 1, 2);
    TokenLog repeated = output(0, 1, 2, 0, 0);

    assertProbabilities(probabilities(repetition(50, 1), zero, l), TOL,
        0, 0, 1, 0.25, 2, 0.25, 3, 0.25, 4, 0.25);
    assertProbabilities(probabilities(repetition(50, 3), zeroOneTwo, l), TOL,
        0, 0, 1, 0, 2, 0, 3, 0.5, 4, 0.5);
    assertProbabilities(probabilities(repetition(50, 5), repeated, l), TOL,
        0, 0, 1, 0, 2, 0, 3, 0.5, 4, 0.5);

    assertProbabilities(direct(presenceFrequency(5, 5, 1), zero, 0, l), TOL,
        0, 0.000011, 1, 0.249997, 2, 0.249997, 3, 0.249997, 4, 0.249997);
    assertProbabilities(direct(presenceFrequency(5, 5, 3), zeroOneTwo, 0, l), TOL,
        0, 0.000023, 1, 0.000023, 2, 0.000023, 3, 0.499966, 4, 0.499966);
    assertProbabilities(direct(presenceFrequency(5, 5, 5), repeated, 0, l), TOL,
        0, 0.000000, 1, 0.000023, 2, 0.000023, 3, 0.499977, 4, 0.499977);

    assertThat(refusal(config().presencePenalty(5f)).field()).isEqualTo("presence_penalty");
    assertThat(refusal(config().frequencyPenalty(5f)).field()).isEqualTo("frequency_penalty");
  }

  private static TokenLog output(int... tokens) {
    return TokenLog.of(new int[0], tokens);
  }

  private static SamplingConfig repetition(double penalty, int lastN) {
    return pipeline(stage("repetition_penalty", "penalty", penalty, "last_n", (double) lastN));
  }

  private static LogitsProcessor presenceFrequency(double presence, double frequency, int lastN) {
    return Penalties.PRESENCE_FREQUENCY.create(Params.of(Map.of("presence", presence,
        "frequency", frequency, "last_n", (long) lastN)));
  }

  // llama.cpp tests/test-sampling.cpp, test_top_n_sigma(): n = 1 keeps {3, 2}; n = 0 (a no-op
  // since llama.cpp PR #13345) and n = 3 keep all. The two stored versions of the test list the
  // n = 1 and n = 3 results in different array orders; by token id they agree.
  @Test
  void topNSigma() {
    float[] l = llamaLogits(P4);
    assertProbabilities(probabilities(config().topNSigma(1f), l), TOL, 3, 0.571429, 2, 0.428571);
    assertProbabilities(probabilities(pipeline(stage("top_n_sigma", "n", 1.0)), l), TOL,
        3, 0.571429, 2, 0.428571);
    assertProbabilities(probabilities(config().topNSigma(0f), l), TOL,
        0, 0.1, 1, 0.2, 2, 0.3, 3, 0.4);
    assertProbabilities(probabilities(pipeline(stage("top_n_sigma", "n", 0.0)), l), TOL,
        0, 0.1, 1, 0.2, 2, 0.3, 3, 0.4);
    assertProbabilities(probabilities(config().topNSigma(3f), l), TOL,
        0, 0.1, 1, 0.2, 2, 0.3, 3, 0.4);
  }

  // llama.cpp tests/test-sampling.cpp, test_sampler_queue(): every call of the published list
  // except top_p = 0 (refused by Tally's range). Vocabulary 10000 with logit(i) = logf(i), stages
  // chained by name; the expected sizes and the smallest surviving id are computed by a port of
  // llama.cpp's own formulas. One adaptation: token 0 has logit logf(0) = -inf, which llama.cpp
  // keeps in the array (p = 0) until a stage drops it, while in Tally a -inf token is never a
  // candidate. The port therefore starts from 9999 candidates with smallest id 1, and skips
  // llama.cpp's "token 0 has p == 0" correction of the top_p size.
  @Test
  void samplerQueue() {
    float eps = 9997.9f / 9999.0f;
    samplerQueue(10000, "k", 10000, 1.0f, 1.0f);
    samplerQueue(10000, "k", 1, 1.0f, 1.0f);
    samplerQueue(10000, "p", 10000, 1.0f, 1.0f);
    samplerQueue(10000, "m", 10000, 1.0f, 1.0f);
    samplerQueue(10000, "m", 10000, 1.0f, 1e-12f);

    samplerQueue(10000, "k", 100, 1.0000f, 1.0f);
    samplerQueue(10000, "p", 10000, 0.0003f, 1.0f);
    samplerQueue(10000, "p", 10000, 0.8000f, 1.0f);
    samplerQueue(10000, "m", 10000, 1.0000f, eps);
    samplerQueue(10000, "m", 10000, 1.0000f, 0.1f);

    samplerQueue(10000, "kp", 100, 0.8f, 0.1f);
    samplerQueue(10000, "km", 100, 0.8f, 0.1f);
    samplerQueue(10000, "pk", 100, 0.8f, 0.1f);
    samplerQueue(10000, "pm", 100, 0.8f, 0.1f);
    samplerQueue(10000, "mk", 100, 0.8f, 0.1f);
    samplerQueue(10000, "mp", 100, 0.8f, eps);
    samplerQueue(10000, "mp", 100, 0.8f, 0.1f);

    samplerQueue(10000, "kpm", 100, 0.8f, 0.1f);
    samplerQueue(10000, "kmp", 100, 0.8f, 0.1f);
    samplerQueue(10000, "pkm", 100, 0.8f, 0.1f);
    samplerQueue(10000, "pmk", 100, 0.8f, 0.1f);
    samplerQueue(10000, "mkp", 100, 0.8f, 0.1f);
    samplerQueue(10000, "mpk", 100, 0.8f, 0.1f);
  }

  private static void samplerQueue(int nVocab, String samplers, int topK, float topP,
      float minP) {
    float[] logits = new float[nVocab];
    for (int i = 0; i < nVocab; i++) {
      logits[i] = (float) Math.log(i);
    }
    List<StageSpec> stages = new ArrayList<>();
    for (char s : samplers.toCharArray()) {
      switch (s) {
        case 'k':
          stages.add(stage("top_k", "k", (double) topK));
          break;
        case 'p':
          stages.add(stage("top_p", "p", (double) topP));
          break;
        case 'm':
          stages.add(stage("min_p", "min_p", (double) minP));
          break;
        default:
          throw new AssertionError(s);
      }
    }
    List<Integer> counts = stageCounts(new SamplingConfig().pipeline(stages), logits);
    String what = samplers + " top_k=" + topK + " top_p=" + topP + " min_p=" + minP;

    int minTokenId = 1; // token 0 (logit -inf) is not a candidate in Tally
    int sizeBefore = nVocab - 1;
    for (int i = 0; i < samplers.length(); i++) {
      char s = samplers.charAt(i);
      int size = counts.get(i);
      int expectedSize;
      if (s == 'k') {
        expectedSize = Math.min(sizeBefore, topK);
        minTokenId = Math.max(minTokenId, nVocab - topK);
      } else if (s == 'p') {
        int softmaxDivisor = nVocab * (nVocab - 1) / 2 - minTokenId * (minTokenId - 1) / 2;
        int softmaxNumeratorTarget = (int) Math.ceil(topP * (float) softmaxDivisor);
        minTokenId = nVocab;
        expectedSize = 0;
        int cumsum = 0;
        do { // always at least one token
          minTokenId--;
          expectedSize++;
          cumsum += minTokenId;
        } while (cumsum < softmaxNumeratorTarget);
      } else {
        expectedSize = (int) Math.ceil((1.0f - minP) * nVocab);
        expectedSize = Math.max(expectedSize, 1);
        expectedSize = Math.min(expectedSize, sizeBefore);
        minTokenId = (int) Math.floor(minP * nVocab);
        minTokenId = Math.max(minTokenId, 1);
        minTokenId = Math.max(minTokenId, nVocab - size);
        minTokenId = Math.min(minTokenId, nVocab - 1);
      }
      assertThat(size).as("%s: candidates after stage %d (%s)", what, i, s)
          .isEqualTo(expectedSize);
      // Logits rise with the id, so the survivors are the top ids; the smallest is nVocab - size.
      assertThat(nVocab - size).as("%s: smallest surviving id after stage %d", what, i)
          .isEqualTo(minTokenId);
      sizeBefore = size;
    }
  }

  /** The INVALID_PARAMS error compiling the request gives; fails if it is accepted. */
  static TallyException refusal(SamplingConfig c) {
    try {
      Sampling.compile(c);
    } catch (TallyException e) {
      assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
      return e;
    }
    throw new AssertionError("expected the request to be refused");
  }
}
