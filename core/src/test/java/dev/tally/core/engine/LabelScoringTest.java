package dev.tally.core.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.testing.Sampling;
import dev.tally.spi.TokenBias;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Label scoring: classification by logits over a set of candidate label tokens, no draw. */
final class LabelScoringTest {
  private static final float[] LOGITS = {1f, 3f, 2f, 0.5f, 5f};

  /** log softmax of {@code xs}, in double. */
  private static double[] logSoftmax(double... xs) {
    double max = Double.NEGATIVE_INFINITY;
    for (double x : xs) {
      max = Math.max(max, x);
    }
    double sum = 0;
    for (double x : xs) {
      sum += Math.exp(x - max);
    }
    double lse = max + Math.log(sum);
    double[] out = new double[xs.length];
    for (int i = 0; i < xs.length; i++) {
      out[i] = xs[i] - lse;
    }
    return out;
  }

  @Test
  void winnerIsTheMostLikelyLabelAndProbabilitiesAreRenormalisedOverTheLabels() {
    RowResult r = Sampling.sample(new SamplingConfig().labelTokenIds(0, 2, 3), LOGITS);

    assertThat(r.tokenId()).isEqualTo(2); // token 4 is likelier, but it is not a label
    double[] expected = logSoftmax(1, 2, 0.5);
    assertThat(r.labelIds()).containsExactly(0, 2, 3);
    for (int i = 0; i < 3; i++) {
      assertThat((double) r.labelLogprobs()[i]).isCloseTo(expected[i], within(1e-6));
    }
    assertThat((double) r.processedLogprob()).isCloseTo(expected[1], within(1e-6));
    // The raw view is unchanged: log-softmax over the whole vocabulary, and the raw rank.
    assertThat((double) r.logprob()).isCloseTo(logSoftmax(1, 3, 2, 0.5, 5)[2], within(1e-6));
    assertThat(r.rank()).isEqualTo(3);
  }

  @Test
  void biasesAndTemperatureApplyBeforeScoring() {
    RowResult biased = Sampling.sample(new SamplingConfig().labelTokenIds(0, 2, 3)
        .logitBias(TokenBias.of(new int[] {0}, new float[] {1.5f})), LOGITS);
    assertThat(biased.tokenId()).isEqualTo(0); // 1 + 1.5 > 2

    RowResult warm = Sampling.sample(new SamplingConfig().labelTokenIds(0, 2, 3).temperature(2f),
        LOGITS);
    double[] expected = logSoftmax(0.5, 1, 0.25);
    for (int i = 0; i < 3; i++) {
      assertThat((double) warm.labelLogprobs()[i]).isCloseTo(expected[i], within(1e-6));
    }
  }

  @Test
  void aMaskedLabelGetsMinusInfinityAndTheRestAreRenormalised() {
    RowResult r = Sampling.sample(new SamplingConfig().labelTokenIds(3, 2, 0)
        .bannedTokenIds(2), LOGITS);
    assertThat(r.tokenId()).isEqualTo(0);
    double[] expected = logSoftmax(0.5, 1);
    assertThat((double) r.labelLogprobs()[0]).isCloseTo(expected[0], within(1e-6));
    assertThat(r.labelLogprobs()[1]).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat((double) r.labelLogprobs()[2]).isCloseTo(expected[1], within(1e-6));
  }

  @Test
  void tiesGoToTheLowestLabelId() {
    RowResult r = Sampling.sample(new SamplingConfig().labelTokenIds(3, 1, 2),
        2f, 4f, 4f, 4f);
    assertThat(r.tokenId()).isEqualTo(1);
  }

  @Test
  void everyLabelMaskedFailsTheRow() {
    RowResult r = Sampling.sampleRaw(new SamplingConfig().labelTokenIds(1, 2).bannedTokenIds(1, 2),
        TokenLog.empty(), 1, LOGITS);
    assertThat(r.error().code()).isEqualTo(ErrorCode.NO_CANDIDATES);
    assertThat(r.error().getMessage()).isEqualTo(
        "row 0: every label token was removed by the chain's processors");
  }

  @Test
  void worksWithAPipelineWithoutSelectorAndExplainsTheLabelsStage() {
    SamplingConfig config = new SamplingConfig().labelTokenIds(0, 2).explain(true)
        .pipeline(List.of(new StageSpec("temperature", Map.of("temperature", 0.5))));
    RowResult r = Sampling.sample(config, LOGITS);
    assertThat(r.tokenId()).isEqualTo(2);
    assertThat(r.stages()).extracting(s -> s.name).containsExactly("temperature", "labels");
    assertThat(r.stages().get(1).candidates).isEqualTo(2);
    double p = Math.exp(logSoftmax(2, 4)[1]);
    assertThat(r.stages().get(1).chosenProbability).isCloseTo(p, within(1e-6));
  }

  @Test
  void rejectsWhatLabelScoringCannotMean() {
    assertInvalid(new SamplingConfig().labelTokenIds(1, 1), "label_token_ids",
        "label_token_ids names token 1 twice");
    assertInvalid(new SamplingConfig().labelTokenIds(1, -2), "label_token_ids",
        "label_token_ids holds a negative token id: -2");
    assertInvalid(new SamplingConfig().labelTokenIds(1, 2).topP(0.9f), "top_p",
        "top_p does not apply to label scoring (label_token_ids)");
    assertInvalid(new SamplingConfig().labelTokenIds(1, 2).temperature(0f), "temperature",
        "label scoring reports probabilities; temperature must be > 0, got 0");
    assertInvalid(new SamplingConfig().labelTokenIds(1, 2)
            .pipeline(List.of(StageSpec.of("greedy"))), "label_token_ids",
        "label scoring chooses the token; pipeline must not end with a selector ('greedy')");
    assertThatThrownBy(() -> Sampling.compile(new SamplingConfig().labelTokenIds(1, 7))
        .checkVocabulary(5))
        .isInstanceOfSatisfying(TallyException.class,
            e -> assertThat(e.field()).isEqualTo("label_token_ids"));
  }

  private static void assertInvalid(SamplingConfig config, String field, String message) {
    assertThatThrownBy(() -> Sampling.compile(config))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
          assertThat(e.field()).isEqualTo(field);
          assertThat(e.getMessage()).isEqualTo(message);
        });
  }
}
