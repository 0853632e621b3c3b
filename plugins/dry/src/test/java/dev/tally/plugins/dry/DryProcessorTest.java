package dev.tally.plugins.dry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.spi.Candidates;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * DRY against llama.cpp. The five {@code test_dry} vectors are llama.cpp's own, from {@code
 * tests/test-sampling.cpp} (ggml-org/llama.cpp @ 07e4038f, the {@code test_dry(...)} calls in
 * {@code main}): probabilities in, the history accepted into the sampler, multiplier, base,
 * allowed length, last_n and token breakers, and the probabilities after {@code dist} (a softmax
 * in token order), to 1e-5 as there.
 */
final class DryProcessorTest {
  private static final ProcessorRegistry REGISTRY =
      ProcessorRegistry.fromServiceLoader(DryProcessorTest.class.getClassLoader());

  private static SamplingContext context(int... history) {
    TokenLog log = TokenLog.of(new int[0], history);
    return new SamplingContext() {
      @Override
      public TokenHistory history() {
        return log;
      }

      @Override
      public long seed() {
        return 0;
      }

      @Override
      public double random(int stream) {
        return 0.5;
      }
    };
  }

  /** llama.cpp's test_dry: logits = log(p), DRY, then the softmax by token id. */
  private static void llamaCppVector(float[] probs, int[] lastTokens, float[] expected,
      float multiplier, float base, int allowedLength, int lastN, int[][] breakers) {
    float[] logits = new float[probs.length];
    for (int i = 0; i < probs.length; i++) {
      logits[i] = (float) Math.log(probs[i]);
    }
    Candidates c = Candidates.of(logits);
    new DryProcessor(multiplier, base, allowedLength, lastN, breakers).apply(c, context(lastTokens));
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < probs.length; i++) {
      max = Math.max(max, c.logit(i));
    }
    double sum = 0;
    for (int i = 0; i < probs.length; i++) {
      sum += Math.exp(c.logit(i) - max);
    }
    for (int i = 0; i < probs.length; i++) {
      assertThat(Math.exp(c.logit(i) - max) / sum).as("token " + i)
          .isCloseTo(expected[i], within(1e-5));
    }
  }

  @Test
  void llamaCppTestSamplingVectors() {
    // test_dry({0.25f, 0.25f, 0.25f, 0.25f}, {0, 1}, {0.25f, 0.25f, 0.25f, 0.25f}, 1.0f, 1.1f, 2, 4, {});
    llamaCppVector(new float[] {0.25f, 0.25f, 0.25f, 0.25f}, new int[] {0, 1},
        new float[] {0.25f, 0.25f, 0.25f, 0.25f}, 1.0f, 1.1f, 2, 4, new int[0][]);
    // test_dry({0.25f, 0.25f, 0.25f, 0.25f}, {0, 1, 2, 0, 1}, {0.296923f, 0.296923f, 0.109232f, 0.296923f}, 1.0f, 1.1f, 2, 5, {});
    llamaCppVector(new float[] {0.25f, 0.25f, 0.25f, 0.25f}, new int[] {0, 1, 2, 0, 1},
        new float[] {0.296923f, 0.296923f, 0.109232f, 0.296923f}, 1.0f, 1.1f, 2, 5, new int[0][]);
    // test_dry({0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, {0, 1, 3, 4, 0, 1}, {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, 1.0f, 1.1f, 2, 6, {{3}});
    llamaCppVector(new float[] {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, new int[] {0, 1, 3, 4, 0, 1},
        new float[] {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, 1.0f, 1.1f, 2, 6, new int[][] {{3}});
    // test_dry({0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, {0, 1, 2, 0, 1}, {0.241818f, 0.241818f, 0.032727f, 0.241818f, 0.241818f}, 2.0f, 1.1f, 2, 5, {});
    llamaCppVector(new float[] {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, new int[] {0, 1, 2, 0, 1},
        new float[] {0.241818f, 0.241818f, 0.032727f, 0.241818f, 0.241818f}, 2.0f, 1.1f, 2, 5,
        new int[0][]);
    // test_dry({0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, {0, 1, 2, 3, 4, 0, 1}, {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, 1.0f, 1.1f, 4, 7, {});
    llamaCppVector(new float[] {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, new int[] {0, 1, 2, 3, 4, 0, 1},
        new float[] {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, 1.0f, 1.1f, 4, 7, new int[0][]);
  }

  private static float[] penalties(DryProcessor dry, int vocab, int... history) {
    Candidates c = Candidates.of(new float[vocab]);
    dry.apply(c, context(history));
    float[] out = new float[vocab];
    for (int i = 0; i < vocab; i++) {
      out[i] = 0f - c.logit(i);
    }
    return out;
  }

  @Test
  void theWorkedExampleOfLlamaCppsSourceComment() {
    // llama-sampling.cpp, DRY step 3: "Last N tokens: a b c c b c y a b c": emitting c would make
    // a repeat of 4 (from `a b c`), b of 2 (from `c`), y of 3 (from `b c`), so the repeat lengths
    // before the new token are c 3, b 1, y 2. allowed_length 1, base 2: penalties 4, 1, 2.
    int a = 0;
    int b = 1;
    int c = 2;
    int y = 3;
    float[] p = penalties(new DryProcessor(1f, 2f, 1, -1, new int[0][]), 4,
        a, b, c, c, b, c, y, a, b, c);
    assertThat(p).containsExactly(0f, 1f, 4f, 2f);
  }

  @Test
  void aBreakerLimitsHowFarBackARepeatReaches() {
    // 1 9 2 3 8 1 9 2 3: the end (1 9 2 3) repeats 4 tokens, followed by 8 then. With 9 a breaker
    // the repeat may only reach back 2 tokens (2 3), so 8 gets base^(2-2) instead of base^(4-2).
    int[] history = {1, 9, 2, 3, 8, 1, 9, 2, 3};
    assertThat(penalties(new DryProcessor(1f, 2f, 2, -1, new int[0][]), 10, history)[8])
        .isEqualTo(4f);
    assertThat(penalties(new DryProcessor(1f, 2f, 2, -1, new int[][] {{9}}), 10, history)[8])
        .isEqualTo(1f);
  }

  @Test
  void multiTokenBreakersMatchTheirTailAndAreThemselvesPenalised() {
    // 0 1 5 6 0 1 with breaker [5, 6]: the breaker ends 2 tokens from the end (rep_limit 2), and
    // 5, which would extend `0 1`, is not a single-token breaker, so it is penalised.
    int[] history = {0, 1, 5, 6, 0, 1};
    assertThat(penalties(new DryProcessor(1f, 2f, 2, -1, new int[][] {{5, 6}}), 8, history)[5])
        .isEqualTo(1f);
    // A single-token breaker is never penalised.
    assertThat(penalties(new DryProcessor(1f, 2f, 2, -1, new int[][] {{5}}), 8, history)[5])
        .isEqualTo(0f);
    // A tail that does not match is no breaker at all: the full repeat length counts.
    assertThat(penalties(new DryProcessor(1f, 2f, 1, -1, new int[][] {{6, 4}}), 8, history)[5])
        .isEqualTo(2f);
  }

  @Test
  void lastNLimitsTheWindow() {
    DryProcessor dry = new DryProcessor(1f, 1.1f, 2, 3, new int[0][]);
    assertThat(penalties(dry, 4, 0, 1, 2, 0, 1)).containsOnly(0f); // sees only 2 0 1
    DryProcessor off = new DryProcessor(1f, 1.1f, 2, 0, new int[0][]);
    assertThat(penalties(off, 4, 0, 1, 2, 0, 1)).containsOnly(0f);
  }

  @Test
  void theExponentIsClampedToTheFloatRange() {
    // base 2: max exponent (int) (88.7228391 / ln 2) = 128. 1·2^128 overflows float to +inf (the
    // logit becomes -inf); 0.8·2^128 stays finite. A long run of one token repeats ~300 tokens.
    int[] run = new int[300];
    Candidates one = Candidates.of(new float[2]);
    new DryProcessor(1f, 2f, 2, -1, new int[0][]).apply(one, context(run));
    assertThat(one.logit(0)).isEqualTo(Float.NEGATIVE_INFINITY);
    Candidates scaled = Candidates.of(new float[2]);
    new DryProcessor(0.8f, 2f, 2, -1, new int[0][]).apply(scaled, context(run));
    assertThat(scaled.logit(0)).isEqualTo((float) -(0.8f * Math.pow(2, 128)));
    assertThat(scaled.logit(1)).isZero();
  }

  @Test
  void removedCandidatesStayRemoved() {
    Candidates c = Candidates.of(0f, 0f, Float.NEGATIVE_INFINITY, 0f);
    new DryProcessor(1f, 1.1f, 2, -1, new int[0][]).apply(c, context(0, 1, 2, 0, 1));
    assertThat(c.logit(2)).isEqualTo(Float.NEGATIVE_INFINITY);
  }

  // ---- through the engine: schema, defaults, validation ----

  private static Chain chain(Map<String, Object> params) {
    return new ChainCompiler(REGISTRY, 20).compile(new SamplingConfig().pipeline(List.of(
        new StageSpec("dry", params), StageSpec.of("greedy"))));
  }

  private static TallyException refused(Map<String, Object> params) {
    try {
      chain(params);
    } catch (TallyException e) {
      return e;
    }
    throw new AssertionError("expected the chain to be refused: " + params);
  }

  @Test
  void namingDryAloneUsesTheDefaults() {
    // 0.8 · 1.75^(2-2) on token 2 after 0 1 2 0 1: greedy then avoids it.
    Chain chain = chain(Map.of());
    RowResult r = new RowSampler().sample(LogitsTensor.ofFloats(1, 3, 0f, 0f, 0.5f), 0, chain,
        TokenLog.of(new int[] {0, 1, 2}, new int[] {0, 1}), 1);
    assertThat(r.failed()).isFalse();
    assertThat(r.tokenId()).isZero();
  }

  @Test
  void breakersComeAsJsonListsOfTokenIds() {
    Map<String, Object> params = new HashMap<>();
    params.put("sequence_breakers", List.of(List.of(2.0)));
    params.put("multiplier", 5.0);
    RowResult r = new RowSampler().sample(LogitsTensor.ofFloats(1, 3, 0f, 0f, 0.5f), 0,
        chain(params), TokenLog.of(new int[] {0, 1, 2}, new int[] {0, 1}), 1);
    assertThat(r.tokenId()).isEqualTo(2); // 2 is a breaker: never penalised
  }

  @Test
  void badParametersNameTheProcessorAndTheParameter() {
    TallyException e = refused(Map.of("base", 0.5));
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(e.getMessage()).contains("dry.base").contains("[1, +inf)");
    e = refused(Map.of("allowed_length", 1.5));
    assertThat(e.getMessage()).contains("dry.allowed_length").contains("integer");
    e = refused(Map.of("multiplier", "high"));
    assertThat(e.getMessage()).contains("dry.multiplier").contains("a number");
    e = refused(Map.of("breakers", List.of()));
    assertThat(e.getMessage()).contains("'dry' has no parameter 'breakers'");
    e = refused(Map.of("sequence_breakers", List.of(List.of())));
    assertThat(e.getMessage()).contains("dry.sequence_breakers[0]");
    e = refused(Map.of("sequence_breakers", List.of(List.of(-3.0))));
    assertThat(e.getMessage()).contains("negative token id");
  }

  @Test
  void breakerIdsAreCheckedAgainstTheVocabulary() {
    Chain chain = chain(Map.of("sequence_breakers", List.of(List.of(1.0, 50.0))));
    RowResult r = new RowSampler().sample(LogitsTensor.ofFloats(1, 3, 0f, 0f, 0f), 0, chain,
        TokenLog.empty(), 1);
    assertThat(r.failed()).isTrue();
    assertThat(r.error().getMessage()).contains("sequence_breakers").contains("50");
  }
}
