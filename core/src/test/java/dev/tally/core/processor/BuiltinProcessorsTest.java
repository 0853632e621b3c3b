package dev.tally.core.processor;

import static dev.tally.core.testing.Sampling.logSoftmax;
import static dev.tally.core.testing.Sampling.logitsOf;
import static dev.tally.core.testing.Sampling.sample;
import static dev.tally.core.testing.Sampling.survivors;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.random.CounterRandom;
import dev.tally.core.testing.Sampling;
import dev.tally.spi.Candidates;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenBias;
import dev.tally.spi.TokenHistory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The built-in stages, each run the way a request runs them: registered through ServiceLoader,
 * compiled by name (convenience fields and {@code pipeline}) and sampled by the RowSampler.
 * Survivors are read from processed-mode top_logprobs (every surviving token, best first).
 */
final class BuiltinProcessorsTest {
  private static final float NEG_INF = Float.NEGATIVE_INFINITY;
  private static final double TOL = 1e-6;

  private static SamplingConfig config() {
    return new SamplingConfig();
  }

  private static SamplingConfig pipeline(StageSpec... stages) {
    return new SamplingConfig().pipeline(List.of(stages));
  }

  private static StageSpec stage(String name, Map<String, Object> params) {
    return new StageSpec(name, params);
  }

  private static TokenLog history(int[] prompt, int[] output) {
    return TokenLog.of(prompt, output);
  }

  private static TokenLog outputOfLength(int n) {
    return TokenLog.of(new int[0], new int[n]);
  }

  /** Asserts the survivors' processed logprobs equal log softmax of {@code expectedLogits}. */
  private static void assertProcessedLogits(Map<Integer, Double> survivors, double... expectedLogits) {
    double[] expected = logSoftmax(expectedLogits);
    assertThat(survivors).hasSize(expectedLogits.length);
    for (int id = 0; id < expectedLogits.length; id++) {
      assertThat(survivors.get(id)).as("processed logprob of token %d", id)
          .isCloseTo(expected[id], within(TOL));
    }
  }

  // ---- masks and biases ------------------------------------------------------------------------

  @Test
  void logitBiasAddsPerTokenAndMinusInfinityBans() {
    SamplingConfig c = config().logitBias(TokenBias.of(new int[] {2, 0, 4},
        new float[] {1.5f, NEG_INF, 10f}));
    Map<Integer, Double> s = survivors(c, 0f, 0f, 0f, 0f, NEG_INF);
    assertThat(s.keySet()).containsExactly(2, 1, 3); // 0 banned; 4 stays -inf: -inf + 10 = -inf
    double[] expected = logSoftmax(1.5, 0, 0);
    assertThat(s.get(2)).isCloseTo(expected[0], within(TOL));
    assertThat(s.get(1)).isCloseTo(expected[1], within(TOL));

    RowResult greedy = sample(config().temperature(0f).logitBias(TokenBias.of(new int[] {3},
        new float[] {0.5f})), 1f, 0f, 0f, 0.6f);
    assertThat(greedy.tokenId()).isEqualTo(3); // 0.6 + 0.5 > 1
  }

  @Test
  void logitBiasByNameWithJsonParams() {
    Map<Integer, Double> s = survivors(pipeline(
        stage("logit_bias", Map.of("bias", Map.of("2", 1.5, "0", -5.0)))), 0f, 0f, 0f);
    assertThat(s.keySet()).containsExactly(2, 1, 0);
    assertProcessedLogits(s, -5, 0, 1.5);
  }

  @Test
  void allowedAndBannedTokens() {
    float[] logits = {1f, 2f, 3f, 4f, 5f};
    assertThat(survivors(config().allowedTokenIds(3, 1, 3), logits).keySet()).containsExactly(3, 1);
    assertThat(survivors(config().bannedTokenIds(0, 2), logits).keySet()).containsExactly(4, 3, 1);
    assertThat(survivors(config().allowedTokenIds(1, 2, 3).bannedTokenIds(2), logits).keySet())
        .containsExactly(3, 1);
    assertThat(survivors(pipeline(stage("allowed_tokens", Map.of("token_ids", List.of(4.0, 0.0)))),
        logits).keySet()).containsExactly(4, 0);
    assertThat(survivors(pipeline(stage("banned_tokens", Map.of("token_ids", List.of(4.0)))),
        logits).keySet()).containsExactly(3, 2, 1, 0);
    // Processed logprobs renormalise over the allowed tokens only.
    assertProcessedLogits(survivors(config().allowedTokenIds(0, 1), logits), 1, 2);
  }

  @Test
  void allowedTokensAfterTruncationKeepOnlyTheIntersection() {
    SamplingConfig c = pipeline(stage("top_k", Map.of("k", 3.0)),
        stage("allowed_tokens", Map.of("token_ids", List.of(0.0, 3.0, 4.0))));
    assertThat(survivors(c, 1f, 2f, 3f, 4f, 5f).keySet()).containsExactly(4, 3);
  }

  @Test
  void allowedTokenWithMinusInfinityLeavesNoCandidate() {
    RowResult r = Sampling.sampleRaw(config().allowedTokenIds(1), TokenLog.empty(), 1, 1f, NEG_INF, 3f);
    assertThat(r.failed()).isTrue();
    assertThat(r.error().code()).isEqualTo(ErrorCode.NO_CANDIDATES);
    assertThat(r.tokenId()).isEqualTo(-1);
  }

  @Test
  void minTokensSuppressesEosAndStopWhileTheOutputIsShorter() {
    float[] logits = {5f, 4f, 1f, 0f};
    SamplingConfig greedy = config().temperature(0f).minTokens(2).eosTokenIds(0).stopTokenIds(1);
    assertThat(sample(greedy, outputOfLength(0), 1, logits).tokenId()).isEqualTo(2);
    assertThat(sample(greedy, outputOfLength(1), 1, logits).tokenId()).isEqualTo(2);
    // Prompt tokens do not count towards min_tokens.
    assertThat(sample(greedy, history(new int[10], new int[1]), 1, logits).tokenId()).isEqualTo(2);

    RowResult released = sample(greedy, outputOfLength(2), 1, logits);
    assertThat(released.tokenId()).isZero();
    assertThat(released.finish()).isEqualTo(RowResult.Finish.EOS_TOKEN);

    RowResult stop = sample(greedy, outputOfLength(5), 1, 4f, 5f, 1f, 0f);
    assertThat(stop.tokenId()).isEqualTo(1);
    assertThat(stop.finish()).isEqualTo(RowResult.Finish.STOP_TOKEN);

    SamplingConfig drawn = config().minTokens(2).eosTokenIds(0).stopTokenIds(1);
    assertThat(survivors(drawn, outputOfLength(1), logits).keySet()).containsExactly(2, 3);
    SamplingConfig after = config().minTokens(2).eosTokenIds(0).stopTokenIds(1);
    assertThat(survivors(after, outputOfLength(2), logits).keySet()).containsExactly(0, 1, 2, 3);
  }

  @Test
  void minTokensByName() {
    SamplingConfig c = pipeline(stage("min_tokens",
        Map.of("min_tokens", 3.0, "token_ids", List.of(1.0))));
    assertThat(survivors(c, outputOfLength(2), 0f, 9f).keySet()).containsExactly(0);
    SamplingConfig released = pipeline(stage("min_tokens",
        Map.of("min_tokens", 3.0, "token_ids", List.of(1.0))));
    assertThat(survivors(released, outputOfLength(3), 0f, 9f).keySet()).containsExactly(1, 0);
  }

  // ---- penalties -------------------------------------------------------------------------------

  @Test
  void repetitionPenaltyDividesPositiveMultipliesOthersOncePerDistinctTokenOfPromptAndOutput() {
    float[] logits = {2f, -2f, 0f, 1f, 3f};
    TokenLog h = history(new int[] {0, 1, 1}, new int[] {2, 1});
    // 0 (prompt only): 2/2; 1 (three times): -2*2 once, not -2*2^3; 2 (output only): 0*2; 3, 4 untouched.
    assertProcessedLogits(survivors(config().repetitionPenalty(2f), h, logits), 1, -4, 0, 1, 3);
    // A penalty below 1 rewards repeats by the same rule.
    assertProcessedLogits(survivors(config().repetitionPenalty(0.5f), h, logits), 4, -1, 0, 1, 3);
    assertProcessedLogits(survivors(pipeline(stage("repetition_penalty", Map.of("penalty", 2.0))),
        h, logits), 1, -4, 0, 1, 3);
  }

  @Test
  void repetitionPenaltyLastNWindow() {
    float[] logits = {2f, -2f, 0f, 1f, 3f};
    TokenLog h = history(new int[] {0, 1, 2, 3}, new int[] {0});
    // The last 2 tokens of prompt + output are [3, 0].
    assertProcessedLogits(survivors(config().repetitionPenalty(2f).penaltyLastN(2), h, logits),
        1, -2, 0, 0.5, 3);
    assertProcessedLogits(survivors(config().repetitionPenalty(2f).penaltyLastN(1), h, logits),
        1, -2, 0, 1, 3);
    assertProcessedLogits(survivors(config().repetitionPenalty(2f).penaltyLastN(0), h, logits),
        2, -2, 0, 1, 3);
    assertProcessedLogits(survivors(config().repetitionPenalty(2f).penaltyLastN(100), h, logits),
        1, -4, 0, 0.5, 3);
    assertProcessedLogits(survivors(config().repetitionPenalty(2f).penaltyLastN(-1), h, logits),
        1, -4, 0, 0.5, 3);
  }

  @Test
  void presenceAndFrequencyCountOutputTokensOnly() {
    float[] logits = new float[5];
    TokenLog h = history(new int[] {1, 1, 1}, new int[] {2, 2, 3});
    // 1 occurs in the prompt only: untouched. 2: 2 * 0.25 + 0.5; 3: 0.25 + 0.5.
    assertProcessedLogits(survivors(config().presencePenalty(0.5f).frequencyPenalty(0.25f), h,
        logits), 0, 0, -1.0, -0.75, 0);
    assertProcessedLogits(survivors(config().frequencyPenalty(0.5f), h, logits), 0, 0, -1, -0.5, 0);
    assertProcessedLogits(survivors(config().presencePenalty(-1f), h, logits), 0, 0, 1, 1, 0);
    assertProcessedLogits(survivors(pipeline(stage("presence_frequency_penalty",
        Map.of("presence", 0.5, "frequency", 0.25))), h, logits), 0, 0, -1.0, -0.75, 0);
  }

  @Test
  void presenceAndFrequencyLastNCountsTheOutputTokensInTheWindow() {
    float[] logits = new float[5];
    TokenLog h = history(new int[] {1, 1, 1}, new int[] {2, 2, 3});
    SamplingConfig two = config().presencePenalty(0.5f).frequencyPenalty(0.25f).penaltyLastN(2);
    assertProcessedLogits(survivors(two, h, logits), 0, 0, -0.75, -0.75, 0); // window [2, 3]
    SamplingConfig four = config().presencePenalty(0.5f).frequencyPenalty(0.25f).penaltyLastN(4);
    assertProcessedLogits(survivors(four, h, logits), 0, 0, -1.0, -0.75, 0); // [1 | 2, 2, 3]
    SamplingConfig zero = config().presencePenalty(0.5f).frequencyPenalty(0.25f).penaltyLastN(0);
    assertProcessedLogits(survivors(zero, h, logits), 0, 0, 0, 0, 0);
  }

  // ---- temperature -----------------------------------------------------------------------------

  @Test
  void temperatureDividesTheLogits() {
    assertProcessedLogits(survivors(config().temperature(0.5f), 1f, 2f, 3f), 2, 4, 6);
    assertProcessedLogits(survivors(config().temperature(2f), 1f, 2f, 3f), 0.5, 1, 1.5);
    assertProcessedLogits(survivors(pipeline(stage("temperature", Map.of("temperature", 0.25))),
        1f, 2f, 3f), 4, 8, 12);
    RowResult r = sample(config().temperature(0.5f), TokenLog.empty(), 5, 1f, 2f, 3f);
    assertThat((double) r.processedLogprob())
        .isCloseTo(logSoftmax(2, 4, 6)[r.tokenId()], within(TOL));
    assertThat((double) r.logprob()).isCloseTo(logSoftmax(1, 2, 3)[r.tokenId()], within(TOL));
  }

  @Test
  void temperatureSoSmallThatDividingOverflowsStillFavoursTheMax() {
    // Any finite temperature > 0 is valid. Dividing 20 by 1e-38 overflows float to +inf, and a
    // row of +inf logits made the draw compute inf - inf = NaN. The limit is greedy: the max
    // (or a fair draw among tied maxima), never an error or a NaN logprob.
    for (float t : new float[] {1e-38f, Float.MIN_VALUE}) {
      for (long seed = 0; seed < 20; seed++) {
        RowResult r = sample(config().temperature(t).topLogprobs(3).processedLogprobs(true),
            TokenLog.empty(), seed, 10f, 20f, 5f);
        assertThat(r.tokenId()).as("T=%s", t).isEqualTo(1);
        assertThat(r.processedLogprob()).isZero();
        assertThat(r.topIds()).containsExactly(1);

        RowResult negative = sample(config().temperature(t), TokenLog.empty(), seed, -10f, -20f);
        assertThat(negative.tokenId()).isZero();

        RowResult tie = sample(config().temperature(t), TokenLog.empty(), seed, 20f, 20f, 5f);
        assertThat(tie.tokenId()).isIn(0, 1);
        assertThat((double) tie.processedLogprob()).isCloseTo(Math.log(0.5), within(TOL));
      }
      RowResult last = sample(config().temperature(t).temperatureLast(true).topK(2),
          TokenLog.empty(), 1, 10f, 20f, 5f);
      assertThat(last.tokenId()).isEqualTo(1);
    }
  }

  // ---- truncation ------------------------------------------------------------------------------

  @Test
  void topKKeepsExactlyKWithTiesToTheLowerId() {
    float[] logits = {1f, 3f, 3f, 2f, 3f, 0f};
    assertThat(survivors(config().topK(1), logits).keySet()).containsExactly(1);
    assertThat(survivors(config().topK(2), logits).keySet()).containsExactly(1, 2);
    assertThat(survivors(config().topK(3), logits).keySet()).containsExactly(1, 2, 4);
    assertThat(survivors(config().topK(4), logits).keySet()).containsExactly(1, 2, 4, 3);
    assertThat(survivors(config().topK(100), logits)).hasSize(6);
    assertThat(survivors(config().topK(0), logits)).hasSize(6);
    assertThat(survivors(config().topK(-1), logits)).hasSize(6);
    assertThat(survivors(pipeline(stage("top_k", Map.of("k", 2.0))), logits).keySet())
        .containsExactly(1, 2);
    assertProcessedLogits(survivors(config().topK(2), 5f, 4f, 1f), 5, 4);
  }

  @Test
  void topPKeepsTheShortestPrefixReachingP() {
    float[] logits = logitsOf(0.4, 0.3, 0.2, 0.1);
    // Boundary: in float32, 0.4 + 0.3 sums to 0.70000005 >= 0.7f (0.69999999), so the exact
    // boundary keeps {0, 1}, as the real-number rule says.
    assertThat(survivors(config().topP(0.7f), logits).keySet()).containsExactly(0, 1);
    assertThat(survivors(config().topP(0.4f), logits).keySet()).containsExactly(0);
    assertThat(survivors(config().topP(0.39f), logits).keySet()).containsExactly(0);
    assertThat(survivors(config().topP(0.41f), logits).keySet()).containsExactly(0, 1);
    assertThat(survivors(config().topP(0.69f), logits).keySet()).containsExactly(0, 1);
    assertThat(survivors(config().topP(0.71f), logits).keySet()).containsExactly(0, 1, 2);
    // 0.4 + 0.3 + 0.2 = 0.90000004 in float32 >= 0.9f: three tokens.
    assertThat(survivors(config().topP(0.9f), logits).keySet()).containsExactly(0, 1, 2);
    assertThat(survivors(config().topP(0.95f), logits).keySet()).containsExactly(0, 1, 2, 3);
    assertThat(survivors(config().topP(1e-6f), logits).keySet()).containsExactly(0);
    assertThat(survivors(pipeline(stage("top_p", Map.of("p", 0.7))), logits).keySet())
        .containsExactly(0, 1);
    // Survivors renormalise: 0.4 / 0.7 and 0.3 / 0.7.
    Map<Integer, Double> s = survivors(config().topP(0.7f), logits);
    assertThat(s.get(0)).isCloseTo(Math.log(0.4 / 0.7), within(TOL));
    assertThat(s.get(1)).isCloseTo(Math.log(0.3 / 0.7), within(TOL));
  }

  @Test
  void topPOrdersTiesByTokenId() {
    float[] flat = {0f, 0f, 0f, 0f};
    assertThat(survivors(config().topP(0.5f), flat).keySet()).containsExactly(0, 1);
    assertThat(survivors(config().topP(0.26f), flat).keySet()).containsExactly(0, 1);
    assertThat(survivors(config().topP(0.25f), flat).keySet()).containsExactly(0);
    assertThat(survivors(config().topP(0.3f), 0f, 1f, 0f, 1f).keySet()).containsExactly(1);
    assertThat(survivors(config().topP(0.5f), 0f, 1f, 0f, 1f).keySet()).containsExactly(1, 3);
  }

  /** Candidates left after the chain's first stage, from explain mode. */
  private static int firstStageCount(SamplingConfig c, float[] logits) {
    return sample(c.explain(true), logits).stages().get(0).candidates;
  }

  @Test
  void topPOnA200kVocabulary() {
    int vocab = 200_000;
    for (double scale : new double[] {0.05, 3}) {
      for (int seed = 0; seed < 2; seed++) {
        java.util.Random rnd = new java.util.Random(seed);
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
          logits[i] = (float) (scale * rnd.nextGaussian());
        }
        double[] p = logSoftmax(java.util.stream.IntStream.range(0, vocab)
            .mapToDouble(i -> logits[i]).toArray());
        double[] sorted = java.util.Arrays.stream(p).map(Math::exp).sorted().toArray(); // ascending
        for (float topP : new float[] {0.5f, 0.9f, 0.99f}) {
          String what = "scale " + scale + ", seed " + seed + ", top_p " + topP;
          // The windowed fast path (unsorted input) must equal the plain path on a sorted list.
          int windowed = firstStageCount(config().topP(topP), logits);
          int fullSort = sample(pipeline(stage("top_k", Map.of("k", (double) vocab)),
              stage("top_p", Map.of("p", (double) topP))).explain(true), logits)
              .stages().get(1).candidates;
          assertThat(windowed).as(what).isEqualTo(fullSort);
          // Mass counted exactly in fixed point: the shortest prefix reaching p (less its 2^-20
          // slack, 8.6e-7 at 0.9) in double arithmetic, within the float terms' rounding (2e-7),
          // also on flat rows, where a float32 running sum was 1e-4 off.
          double kept = 0;
          for (int i = 0; i < windowed; i++) {
            kept += sorted[vocab - 1 - i];
          }
          double last = sorted[vocab - windowed];
          assertThat(kept).as(what).isGreaterThanOrEqualTo(topP * (1 - 0x1p-20) - 2e-7);
          assertThat(kept - last).as(what).isLessThan(topP * (1 - 0x1p-20) + 2e-7);
        }
      }
    }
  }

  @Test
  void topPWhenTheNucleusCrossesTheFastPathWindow() {
    // One token at 10 and 5000 at 1.5, just outside the 8-logit window below the max: the
    // window alone holds about half the mass, so a nucleus above that must reach past it.
    int n = 5000;
    float[] logits = new float[n + 1];
    java.util.Arrays.fill(logits, 1.5f);
    logits[0] = 10f;
    double top = Math.exp(10) / (Math.exp(10) + n * Math.exp(1.5));
    double other = Math.exp(1.5) / (Math.exp(10) + n * Math.exp(1.5));
    // top = 0.4957: p = 0.5 and 0.5005 sit just above the window's mass, inside any sloppy margin.
    for (float topP : new float[] {0.3f, 0.5f, 0.5005f, 0.51f, 0.6f, 0.9f}) {
      int expected = topP <= top ? 1 : 1 + (int) Math.ceil((topP - top) / other);
      double boundary = top + (expected - 1) * other;
      assertThat(Math.abs(boundary - topP)).as("unambiguous boundary").isGreaterThan(other / 100);
      assertThat(firstStageCount(config().topP(topP), logits)).as("top_p %s", topP)
          .isEqualTo(expected);
    }
  }

  @Test
  void minPKeepsTokensWithAtLeastMinPTimesTheTopProbability() {
    float[] logits = logitsOf(0.5, 0.25, 0.125, 0.125);
    assertThat(survivors(config().minP(0.4f), logits).keySet()).containsExactly(0, 1);
    assertThat(survivors(config().minP(0.6f), logits).keySet()).containsExactly(0);
    // The boundary is inclusive (p >= min_p * p_max): 0.25 = 0.5 * 0.5 and 0.125 = 0.25 * 0.5.
    assertThat(survivors(config().minP(0.5f), logits).keySet()).containsExactly(0, 1);
    assertThat(survivors(config().minP(0.25f), logits).keySet()).containsExactly(0, 1, 2, 3);
    assertThat(survivors(config().minP(0.2f), logits).keySet()).containsExactly(0, 1, 2, 3);
    assertThat(survivors(config().minP(1f), logits).keySet()).containsExactly(0);
    assertThat(survivors(config().minP(1f), 1f, 1f, 0f).keySet()).containsExactly(0, 1);
    assertThat(survivors(config().minP(0f), logits)).hasSize(4);
    assertThat(survivors(pipeline(stage("min_p", Map.of("min_p", 0.4))), logits).keySet())
        .containsExactly(0, 1);
    // Relative to the current candidates: with 0 banned, p_max is 0.25, so 0.6 keeps only token 1.
    assertThat(survivors(config().bannedTokenIds(0).minP(0.6f), logits).keySet()).containsExactly(1);
  }

  @Test
  void typicalPKeepsTheTokensWhoseSurpriseIsClosestToTheEntropy() {
    // p = {0.5, 0.3, 0.2}: H = 1.0297 nats; |-ln p - H| = 0.337, 0.174, 0.580, so the typical
    // order is 1, 0, 2 and the running mass 0.3, 0.8, 1.0 must exceed p (strictly).
    float[] logits = logitsOf(0.5, 0.3, 0.2);
    assertThat(survivors(config().typicalP(0.2f), logits).keySet()).containsExactly(1);
    assertThat(survivors(config().typicalP(0.5f), logits).keySet()).containsExactly(0, 1);
    assertThat(survivors(config().typicalP(0.85f), logits).keySet()).containsExactly(0, 1, 2);
    assertThat(survivors(config().typicalP(1f), logits)).hasSize(3);
    assertThat(survivors(pipeline(stage("typical_p", Map.of("p", 0.2))), logits).keySet())
        .containsExactly(1);
    Map<Integer, Double> s = survivors(config().typicalP(0.5f), logits);
    assertThat(s.get(0)).isCloseTo(Math.log(0.5 / 0.8), within(TOL));
    assertThat(s.get(1)).isCloseTo(Math.log(0.3 / 0.8), within(TOL));
  }

  @Test
  void topNSigmaKeepsLogitsWithinNStandardDeviationsOfTheMax() {
    // mean 3.375, population σ = sqrt(30.625 - 3.375²) = 4.3857.
    float[] logits = {10f, 9f, 8f, 0f, 0f, 0f, 0f, 0f};
    assertThat(survivors(config().topNSigma(0.2f), logits).keySet()).containsExactly(0); // > 9.12
    assertThat(survivors(config().topNSigma(0.25f), logits).keySet()).containsExactly(0, 1); // 8.90
    assertThat(survivors(config().topNSigma(0.5f), logits).keySet()).containsExactly(0, 1, 2);
    assertThat(survivors(config().topNSigma(1f), logits).keySet()).containsExactly(0, 1, 2);
    assertThat(survivors(config().topNSigma(3f), logits)).hasSize(8); // 10 - 13.2 < 0
    assertThat(survivors(config().topNSigma(0f), logits)).hasSize(8);
    assertThat(survivors(config().topNSigma(-1f), logits)).hasSize(8);
    assertThat(survivors(pipeline(stage("top_n_sigma", Map.of("n", 0.25))), logits).keySet())
        .containsExactly(0, 1);
  }

  // ---- selectors -------------------------------------------------------------------------------

  @Test
  void greedyTakesTheArgmaxWithTiesToTheLowestId() {
    RowResult r = sample(config().temperature(0f), 1f, 5f, 5f, 2f);
    assertThat(r.tokenId()).isEqualTo(1);
    assertThat(r.processedLogprob()).isZero();
    assertThat((double) r.logprob()).isCloseTo(logSoftmax(1, 5, 5, 2)[1], within(TOL));
    assertThat(sample(pipeline(stage("greedy", Map.of())), 1f, 5f, 5f, 2f).tokenId()).isEqualTo(1);
    // Temperature-last greedy runs after truncation: top_k 1 of [1, 5, 5, 2] keeps token 1.
    assertThat(sample(config().temperature(0f).temperatureLast(true).topK(1), 1f, 5f, 5f, 2f)
        .tokenId()).isEqualTo(1);
  }

  @Test
  void greedyIgnoresTheListOrderForTies() {
    Candidates c = Candidates.of(0f, 2f, NEG_INF, 2f, NEG_INF);
    c.retain(new int[] {4, 3, 2, 1}, 4, false); // the tie appears as 3 before 1
    assertThat(new Selectors.Greedy().select(c, NO_CONTEXT)).isEqualTo(1);
    assertThat(new Selectors.Greedy().isDeterministic()).isTrue();
  }

  @Test
  void drawIsInverseCdfInCandidateOrderWithTheCounterBasedUniform() {
    float[] logits = logitsOf(0.2, 0.3, 0.5);
    for (long seed = 0; seed < 300; seed++) {
      for (int produced : new int[] {0, 7}) {
        double u = CounterRandom.uniform(seed, produced, 0);
        int expected = u < 0.2 ? 0 : u < 0.5 ? 1 : 2;
        RowResult r = sample(config(), outputOfLength(produced), seed, logits);
        assertThat(r.tokenId()).as("seed %d, counter %d, u=%s", seed, produced, u)
            .isEqualTo(expected);
        assertThat(r.seed()).isEqualTo(seed);
        assertThat((double) r.processedLogprob())
            .isCloseTo(Math.log(new double[] {0.2, 0.3, 0.5}[expected]), within(TOL));
      }
    }
  }

  @Test
  void drawFromASingleSurvivorHasProcessedLogprobZero() {
    RowResult r = sample(config().topK(1), TokenLog.empty(), 77, 1f, 3f, 2f);
    assertThat(r.tokenId()).isEqualTo(1);
    assertThat(r.processedLogprob()).isZero();
  }

  @Test
  void drawSkipsMinusInfinityEntries() {
    // Token 1 is -inf: whatever u, the draw must not land on it.
    for (long seed = 0; seed < 200; seed++) {
      int token = sample(config(), TokenLog.empty(), seed, 0f, NEG_INF, 0f).tokenId();
      assertThat(token).isIn(0, 2);
    }
  }

  // ---- order ---------------------------------------------------------------------------------

  @Test
  void temperatureOrderDecidesWhatTopPKeeps() {
    // logits [3, 2, 1], top_p 0.8, temperature 0.5.
    // Temperature first (vLLM/HF): softmax([6, 4, 2]) = [0.867, 0.117, 0.016] -> {0}.
    // Temperature last (llama.cpp): softmax([3, 2, 1]) = [0.665, 0.245, 0.090] -> {0, 1}.
    float[] logits = {3f, 2f, 1f};
    SamplingConfig first = config().topP(0.8f).temperature(0.5f).explain(true);
    SamplingConfig last = config().topP(0.8f).temperature(0.5f).temperatureLast(true).explain(true);
    assertThat(survivors(first, logits).keySet()).containsExactly(0);
    Map<Integer, Double> lastSurvivors = survivors(last, logits);
    assertThat(lastSurvivors.keySet()).containsExactly(0, 1);
    // The survivors are then sharpened by the temperature: softmax([6, 4]).
    assertThat(lastSurvivors.get(0)).isCloseTo(logSoftmax(6, 4)[0], within(TOL));

    RowResult f = sample(first, logits);
    assertThat(stageNames(f)).containsExactly("temperature", "top_p", "draw");
    assertThat(stageCounts(f)).containsExactly(3, 1, 1);
    RowResult l = sample(last, logits);
    assertThat(stageNames(l)).containsExactly("top_p", "temperature", "draw");
    assertThat(stageCounts(l)).containsExactly(2, 2, 2);
  }

  private static List<String> stageNames(RowResult r) {
    List<String> names = new ArrayList<>();
    r.stages().forEach(s -> names.add(s.name));
    return names;
  }

  private static List<Integer> stageCounts(RowResult r) {
    List<Integer> counts = new ArrayList<>();
    r.stages().forEach(s -> counts.add(s.candidates));
    return counts;
  }

  /** A context for direct selector calls; never consulted by greedy. */
  private static final SamplingContext NO_CONTEXT = new SamplingContext() {
    @Override
    public TokenHistory history() {
      throw new AssertionError();
    }

    @Override
    public long seed() {
      throw new AssertionError();
    }

    @Override
    public double random(int stream) {
      throw new AssertionError();
    }
  };
}
