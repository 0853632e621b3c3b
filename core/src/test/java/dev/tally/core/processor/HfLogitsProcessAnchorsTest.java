package dev.tally.core.processor;

import static dev.tally.core.processor.Anchors.assertProbabilities;
import static dev.tally.core.processor.Anchors.create;
import static dev.tally.core.processor.Anchors.ids;
import static dev.tally.core.processor.Anchors.logitsAfter;
import static dev.tally.core.processor.Anchors.pipeline;
import static dev.tally.core.processor.Anchors.probabilities;
import static dev.tally.core.processor.Anchors.removed;
import static dev.tally.core.processor.Anchors.sequences;
import static dev.tally.core.processor.Anchors.stage;
import static dev.tally.core.processor.Anchors.torchLog;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.testing.Sampling;
import dev.tally.spi.LogitsProcessor;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The published expectations of HF transformers' logits-processor tests, reproduced by token id.
 *
 * <p>Source: repository {@code huggingface/transformers}, file {@code
 * tests/generation/test_logits_process.py} (stored commit 019af3ac65298aae51038a941c54a038a505bd57),
 * class {@code LogitsProcessorTest}; each test names the method it reproduces. HF runs a batch of
 * rows through one processor; here each row is its own request. HF's tolerance is {@code
 * assert_close(rtol=1e-3, atol=1e-3)} for distributions and {@code assertAlmostEqual} (7 places)
 * for single scores; the latter are compared here on the processed logits themselves, exactly as
 * float32.
 *
 * <p>HF's warpers return un-renormalised scores ({@code exp(filtered)} keeps the original
 * probabilities, 0 for removed tokens); Tally reports probabilities renormalised over the
 * survivors, so expected values are renormalised before comparing. Where HF's test passes {@code
 * min_tokens_to_keep} to a warper that Tally does not give that parameter (top_k, top_p, min_p,
 * typical_p: Tally keeps at least one token, DESIGN §3), the test checks Tally's documented rule
 * and says what HF keeps instead.
 */
final class HfLogitsProcessAnchorsTest {
  /** HF's {@code assert_close(rtol=1e-3, atol=1e-3)} on probabilities near 1: 2e-3 absolute. */
  private static final double TOL = 2e-3;

  private static SamplingConfig config() {
    return new SamplingConfig();
  }

  /** {@code torch.arange(vocab) - vocab // 2}, and its ×100 "extreme" row. */
  private static float[] ramp(int vocab, float scale) {
    float[] l = new float[vocab];
    for (int i = 0; i < vocab; i++) {
      l[i] = (i - vocab / 2) * scale;
    }
    return l;
  }

  private static int survivorCount(SamplingConfig c, float... logits) {
    return Sampling.survivors(c, logits).size();
  }

  private static float[] uniform(int vocab) {
    float[] l = new float[vocab];
    Arrays.fill(l, 1f / vocab);
    return l;
  }

  private static TokenLog inputIds(int... ids) {
    return TokenLog.of(ids, new int[0]);
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_temperature_dist_warper: T = 0.5 sharpens and T = 1.3 smooths the
  // peaked row, the uniform row stays uniform; also checked exactly against softmax(scores / T).
  @Test
  void temperatureDistWarper() {
    float[] flat = uniform(20);
    float[] peaked = uniform(20);
    peaked[5] = (float) (1.0 / 20 + 0.1);
    peaked[10] = (float) (1.0 / 20 - 0.4);
    double[] p = softmax(peaked, 1);
    for (float t : new float[] {0.5f, 1.3f}) {
      Map<Integer, Double> uniformWarped = probabilities(config().temperature(t), flat);
      assertThat(uniformWarped).hasSize(20).allSatisfy((id, q) ->
          assertThat(q).isCloseTo(0.05, within(1e-3)));
      Map<Integer, Double> warped = probabilities(config().temperature(t), peaked);
      double[] expected = softmax(peaked, t);
      for (int id = 0; id < 20; id++) {
        assertThat(warped.get(id)).isCloseTo(expected[id], within(1e-6));
      }
      double max = Collections.max(warped.values());
      double min = Collections.min(warped.values());
      if (t < 1) { // sharp peaks get higher, valleys lower
        assertThat(max).isGreaterThan(p[5]);
        assertThat(min).isLessThan(p[10]);
      } else { // smooth peaks get lower, valleys higher
        assertThat(max).isLessThan(p[5]);
        assertThat(min).isGreaterThan(p[10]);
      }
    }
  }

  private static double[] softmax(float[] logits, double t) {
    double[] out = new double[logits.length];
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l / t);
    }
    double sum = 0;
    for (int i = 0; i < out.length; i++) {
      out[i] = Math.exp(logits[i] / t - max);
      sum += out[i];
    }
    for (int i = 0; i < out.length; i++) {
      out[i] /= sum;
    }
    return out;
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_repetition_penalty_dist_process: penalty 2 on input_ids [0, 1] and
  // [5, 0]: -0.1 -> -0.2, 0.1 -> 0.05, 0.4 -> 0.2; unseen tokens untouched. (HF's
  // prompt_ignore_length and normalize=True variants have no Tally equivalent.)
  @Test
  void repetitionPenaltyDistProcess() {
    LogitsProcessor penalty = create("repetition_penalty", "penalty", 2.0);
    float[] row0 = uniform(10);
    row0[0] = -(1f / 10);
    float[] out0 = logitsAfter(inputIds(0, 1), row0, penalty);
    assertThat(out0[0]).isEqualTo(-(1f / 10) * 2);
    assertThat(out0[1]).isEqualTo((1f / 10) / 2);
    assertThat(out0[2]).isEqualTo(1f / 10);

    float[] row1 = uniform(10);
    row1[5] = 4f / 10;
    float[] out1 = logitsAfter(inputIds(5, 0), row1, penalty);
    assertThat(out1[0]).isEqualTo((1f / 10) / 2);
    assertThat(out1[5]).isEqualTo((4f / 10) / 2);

    // The same through a request: processed logprobs are log-softmax of the penalised logits.
    Map<Integer, Double> s = Sampling.survivors(config().repetitionPenalty(2f), inputIds(0, 1), row0);
    assertThat(s.get(0) - s.get(2)).isCloseTo(-0.2 - 0.1, within(1e-6));
    assertThat(s.get(1) - s.get(2)).isCloseTo(0.05 - 0.1, within(1e-6));
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_top_k_dist_warper: k = 3 on two ramps keeps the three largest.
  // Difference: HF's safety check (top_k 1, min_tokens_to_keep 3) keeps all five tokens of a
  // uniform row, because HF keeps every token tied with the k-th value; Tally keeps exactly k,
  // ties to the lower id (DESIGN §3), so k = max(1, 3) keeps tokens 0, 1, 2. On the ramp the two
  // rules agree: 3 tokens.
  @Test
  void topKDistWarper() {
    float[] ramp0 = new float[10];
    float[] ramp1 = new float[10];
    for (int i = 0; i < 10; i++) {
      ramp0[i] = i;
      ramp1[i] = i < 5 ? i + 10 : i;
    }
    assertThat(removed(config().topK(3), TokenLog.empty(), ramp0))
        .containsExactly(0, 1, 2, 3, 4, 5, 6);
    assertThat(removed(config().topK(3), TokenLog.empty(), ramp1))
        .containsExactly(0, 1, 5, 6, 7, 8, 9);

    assertThat(Sampling.survivors(config().topK(3), uniform(5)).keySet()).containsExactly(0, 1, 2);
    assertThat(removed(config().topK(3), TokenLog.empty(), 0f, 1f, 2f, 3f, 4f)).hasSize(2);
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_top_p_dist_warper: top_p 0.8 keeps {0.3, 0.5} and {0.3, 0.3, 0.25}
  // (the first row sits on the boundary: 0.5 + 0.3 reaches 0.8 in float32, as in HF's ascending
  // cumsum <= 0.2 rule). Ramp edge case, top_p 0.9: the first row keeps 3 tokens in both; the
  // ×100 row keeps 1 in Tally, where HF keeps 2 only because of min_tokens_to_keep=2, a parameter
  // Tally's top_p does not have (at least one token survives).
  @Test
  void topPDistWarper() {
    assertProbabilities(probabilities(config().topP(0.8f), torchLog(0.3, 0.1, 0.1, 0.5)), TOL,
        0, 0.3 / 0.8, 3, 0.5 / 0.8);
    assertProbabilities(probabilities(config().topP(0.8f), torchLog(0.15, 0.3, 0.3, 0.25)), TOL,
        1, 0.3 / 0.85, 2, 0.3 / 0.85, 3, 0.25 / 0.85);
    assertThat(survivorCount(config().topP(0.9f), ramp(10, 1))).isEqualTo(3);
    assertThat(survivorCount(config().topP(0.9f), ramp(10, 100))).isEqualTo(1);
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_min_p_dist_warper: min_p 0.05 keeps {0.9, 0.047} (0.047 > 0.045),
  // all of {0.15, 0.3, 0.3, 0.25}, and {0.97}. Ramp edge case with min_p 0.9: Tally keeps 1 token
  // per row; HF's 2 and 2 come from min_tokens_to_keep=2, which Tally's min_p does not have.
  @Test
  void minPDistWarper() {
    assertProbabilities(probabilities(config().minP(0.05f), torchLog(0.9, 0.0274, 0.047, 0.0274)),
        TOL, 0, 0.9 / 0.947, 2, 0.047 / 0.947);
    assertProbabilities(probabilities(config().minP(0.05f), torchLog(0.15, 0.3, 0.3, 0.25)), TOL,
        0, 0.15, 1, 0.3, 2, 0.3, 3, 0.25);
    assertProbabilities(probabilities(config().minP(0.05f), torchLog(0.97, 0.01, 0.01, 0.01)),
        TOL, 0, 1.0);
    assertThat(survivorCount(config().minP(0.9f), ramp(10, 1))).isEqualTo(1);
    assertThat(survivorCount(config().minP(0.9f), ramp(10, 100))).isEqualTo(1);
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_typical_dist_warper: mass 0.5 keeps {0.97} and {0.2, 0.2, 0.2}.
  // Differences, both documented rules of Tally's typical_p (llama.cpp's): on a uniform row of 5
  // with mass 0.5, HF keeps all 5 (every score ties with the cut-off score) while Tally keeps
  // tokens in typical order, ties to the lower id, until the mass exceeds 0.5: {0, 1, 2}. On the
  // ramp with mass 0.7 the first row keeps 2 in both; the ×100 row keeps 1 in Tally, 2 in HF only
  // because of min_tokens_to_keep=2.
  @Test
  void typicalDistWarper() {
    assertProbabilities(probabilities(config().typicalP(0.5f), torchLog(0.97, 0.01, 0.01, 0.01)),
        TOL, 0, 1.0);
    assertProbabilities(probabilities(config().typicalP(0.5f), torchLog(0.4, 0.2, 0.2, 0.2)), TOL,
        1, 1 / 3.0, 2, 1 / 3.0, 3, 1 / 3.0);
    assertThat(Sampling.survivors(config().typicalP(0.5f), uniform(5)).keySet())
        .containsExactly(0, 1, 2);
    assertThat(survivorCount(config().typicalP(0.7f), ramp(10, 1))).isEqualTo(2);
    assertThat(survivorCount(config().typicalP(0.7f), ramp(10, 100))).isEqualTo(1);
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_epsilon_dist_warper: epsilon 0.1 keeps {0.87} and all of {0.4,
  // 0.299, 0.101, 0.2}; with epsilon 5e-2 and min_tokens_to_keep 2 the ramps keep 3 and 2.
  @Test
  void epsilonDistWarper() {
    assertProbabilities(probabilities(pipeline(stage("epsilon_cutoff", "epsilon", 0.1)),
        torchLog(0.87, 0.099, 0.001, 0.03)), TOL, 0, 1.0);
    assertProbabilities(probabilities(pipeline(stage("epsilon_cutoff", "epsilon", 0.1)),
        torchLog(0.4, 0.299, 0.101, 0.2)), TOL, 0, 0.4, 1, 0.299, 2, 0.101, 3, 0.2);
    SamplingConfig edge = pipeline(stage("epsilon_cutoff", "epsilon", 5e-2,
        "min_tokens_to_keep", 2.0));
    assertThat(survivorCount(edge, ramp(10, 1))).isEqualTo(3);
    edge = pipeline(stage("epsilon_cutoff", "epsilon", 5e-2, "min_tokens_to_keep", 2.0));
    assertThat(survivorCount(edge, ramp(10, 100))).isEqualTo(2);
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_eta_dist_warper: eta 0.0625 keeps {0.1, 0.8, 0.1} (cut-off
  // min(0.0625, 0.1320)) and {0.9} (cut-off min(0.0625, 0.1644)); the row's 0.0 is log(0) = -inf,
  // not a candidate. With eta 0.1 and min_tokens_to_keep 2 both ramps keep 2.
  @Test
  void etaDistWarper() {
    assertProbabilities(probabilities(pipeline(stage("eta_cutoff", "epsilon", 0.0625)),
        torchLog(0.0, 0.1, 0.8, 0.1)), TOL, 1, 0.1, 2, 0.8, 3, 0.1);
    assertProbabilities(probabilities(pipeline(stage("eta_cutoff", "epsilon", 0.0625)),
        torchLog(0.01, 0.04, 0.9, 0.05)), TOL, 2, 1.0);
    for (float scale : new float[] {1, 100}) {
      assertThat(survivorCount(pipeline(stage("eta_cutoff", "epsilon", 0.1,
          "min_tokens_to_keep", 2.0)), ramp(10, scale))).as("scale %s", scale).isEqualTo(2);
    }
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_no_repeat_ngram_dist_processor: on [1, 1, 2, 1] a 2-gram ban removes
  // {1, 2} and a 3-gram ban nothing; on [0, 1, 0, 1] both remove {0}.
  @Test
  void noRepeatNgramDistProcessor() {
    float[] scores = uniform(3);
    assertThat(removed(ngram(2), inputIds(1, 1, 2, 1), scores)).containsExactly(1, 2);
    assertThat(removed(ngram(2), inputIds(0, 1, 0, 1), scores)).containsExactly(0);
    assertThat(removed(ngram(3), inputIds(1, 1, 2, 1), scores)).isEmpty();
    assertThat(removed(ngram(3), inputIds(0, 1, 0, 1), scores)).containsExactly(0);
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_no_repeat_ngram_dist_processor_banned_token_reappears: the 3-gram
  // (1, 2, 5) bans 5 after the suffix (1, 2); the later (7, 8, 5) must not undo it. Only 5.
  @Test
  void noRepeatNgramBannedTokenReappears() {
    assertThat(removed(ngram(3), inputIds(1, 2, 5, 7, 8, 5, 1, 2), uniform(10)))
        .containsExactly(5);
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_no_repeat_ngram_dist_processor_sequence_shorter_than_ngram: two
  // tokens hold no 3-gram, so nothing is banned.
  @Test
  void noRepeatNgramSequenceShorterThanNgram() {
    assertThat(removed(ngram(3), inputIds(1, 2), uniform(3))).isEmpty();
    assertThat(removed(ngram(3), inputIds(0, 1), uniform(3))).isEmpty();
  }

  private static SamplingConfig ngram(int n) {
    return pipeline(stage("no_repeat_ngram", "ngram_size", (double) n));
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_no_bad_words_dist_processor: bad words [[1], [4], [1, 0], [0, 1, 2],
  // [1, 3, 1, 3]] with EOS 4: on [0, 1, 3, 1] tokens {0, 1, 3} are banned, on [0, 1, 0, 1] tokens
  // {0, 1, 2}; [4] is dropped because it is the EOS token, and [[4]] alone bans nothing.
  @Test
  void noBadWordsDistProcessor() {
    SamplingConfig bad = badWords(sequences(new int[] {1}, new int[] {4}, new int[] {1, 0},
        new int[] {0, 1, 2}, new int[] {1, 3, 1, 3}));
    assertThat(removed(bad, inputIds(0, 1, 3, 1), uniform(5))).containsExactly(0, 1, 3);
    bad = badWords(sequences(new int[] {1}, new int[] {4}, new int[] {1, 0}, new int[] {0, 1, 2},
        new int[] {1, 3, 1, 3}));
    assertThat(removed(bad, inputIds(0, 1, 0, 1), uniform(5))).containsExactly(0, 1, 2);
    assertThat(removed(badWords(sequences(new int[] {4})), inputIds(0, 1, 3, 1), uniform(5)))
        .isEmpty();
  }

  private static SamplingConfig badWords(List<Object> sequences) {
    return pipeline(stage("bad_words", "sequences", sequences, "eos_token_ids", ids(4)));
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_bias_dist_processor: biases {(1,): 100, (4,): 100} and {(1, 0): -100,
  // (0, 1, 2): -100, (1, 3, 1, 3): -100, (1, 3, 1, 3, 1, 3): -100} on zero scores give [-100, 100,
  // 0, -100, 100] after [0, 1, 3, 1] and [-100, 100, -100, 0, 100] after [0, 1, 0, 1]; the last
  // key is longer than the context and ignored. A Tally sequence_bias stage has one bias value,
  // so HF's dict becomes two stages (biases add, as HF's do).
  @Test
  void biasDistProcessor() {
    LogitsProcessor positive = create("sequence_bias", "sequences",
        sequences(new int[] {1}, new int[] {4}), "bias", 100.0);
    LogitsProcessor negative = create("sequence_bias", "sequences", sequences(new int[] {1, 0},
        new int[] {0, 1, 2}, new int[] {1, 3, 1, 3}, new int[] {1, 3, 1, 3, 1, 3}), "bias", -100.0);
    assertThat(logitsAfter(inputIds(0, 1, 3, 1), new float[5], positive, negative))
        .containsExactly(-100f, 100f, 0f, -100f, 100f);
    assertThat(logitsAfter(inputIds(0, 1, 0, 1), new float[5], positive, negative))
        .containsExactly(-100f, 100f, -100f, 0f, 100f);

    // The same through a request: processed logprobs are log-softmax of those logits.
    SamplingConfig request = pipeline(
        stage("sequence_bias", "sequences", sequences(new int[] {1}, new int[] {4}), "bias", 100.0),
        stage("sequence_bias", "sequences", sequences(new int[] {1, 0}, new int[] {0, 1, 2},
            new int[] {1, 3, 1, 3}, new int[] {1, 3, 1, 3, 1, 3}), "bias", -100.0));
    Map<Integer, Double> s = Sampling.survivors(request, inputIds(0, 1, 3, 1), new float[5]);
    double[] expected = Sampling.logSoftmax(-100, 100, 0, -100, 100);
    for (int id = 0; id < 5; id++) {
      assertThat(s.get(id)).as("token %d", id).isCloseTo(expected[id], within(1e-4));
    }
  }

  // huggingface/transformers tests/generation/test_logits_process.py,
  // LogitsProcessorTest.test_new_min_length_dist_processor (eos 0, and eos [0, 18]): prompt 5,
  // min_new_tokens 3: EOS is -inf with 0, 1 and 2 new tokens, and free with 3 and 10. Tally's
  // min_tokens counts output tokens exactly like MinNewTokensLength. HF's call with an input
  // shorter than the prompt (length 2) has no Tally equivalent: a history is prompt + output.
  // (HF's MinLengthLogitsProcessor, which counts the prompt, has no Tally equivalent either.)
  @Test
  void newMinLengthDistProcessor() {
    for (int[] eos : new int[][] {{0}, {0, 18}}) {
      for (int generated : new int[] {0, 1, 2}) {
        TokenLog h = TokenLog.of(new int[] {3, 4, 5, 6, 7}, new int[generated]);
        assertThat(removed(config().minTokens(3).eosTokenIds(eos), h, uniform(20)))
            .as("eos %s after %d new tokens", Arrays.toString(eos), generated)
            .containsExactlyElementsOf(Arrays.stream(eos).boxed().toList());
      }
      for (int generated : new int[] {3, 10}) {
        TokenLog h = TokenLog.of(new int[] {3, 4, 5, 6, 7}, new int[generated]);
        assertThat(removed(config().minTokens(3).eosTokenIds(eos), h, uniform(20))).isEmpty();
      }
    }
  }
}
