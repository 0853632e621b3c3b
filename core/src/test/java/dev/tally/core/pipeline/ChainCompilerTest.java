package dev.tally.core.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.processor.BuiltinPlugin;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.testing.Sampling;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.TallyPlugin;
import dev.tally.spi.TokenBias;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

final class ChainCompilerTest {
  private static final ChainCompiler COMPILER = new ChainCompiler(Sampling.BUILTINS, 20);

  private static SamplingConfig config() {
    return new SamplingConfig();
  }

  private static Chain compile(SamplingConfig c) {
    return COMPILER.compile(c);
  }

  private static List<String> names(Chain chain) {
    List<String> names = new ArrayList<>();
    chain.processors().forEach(s -> names.add(s.name()));
    names.add(chain.selector().name());
    return names;
  }

  private static TallyException error(SamplingConfig c) {
    try {
      compile(c);
    } catch (TallyException e) {
      return e;
    }
    throw new AssertionError("expected the config to be refused");
  }

  private static void assertRefused(SamplingConfig c, ErrorCode code, String field) {
    TallyException e = error(c);
    assertThat(e.code()).as(e.getMessage()).isEqualTo(code);
    assertThat(e.field()).as(e.getMessage()).isEqualTo(field);
  }

  private static void assertInvalid(SamplingConfig c, String field) {
    assertRefused(c, ErrorCode.INVALID_PARAMS, field);
  }

  private static void assertAccepted(SamplingConfig c) {
    assertThatCode(() -> compile(c)).doesNotThrowAnyException();
  }

  private static StageSpec stage(String name, Map<String, Object> params) {
    return new StageSpec(name, params);
  }

  private static SamplingConfig pipeline(StageSpec... stages) {
    return config().pipeline(List.of(stages));
  }

  // ---- compiled order --------------------------------------------------------------------------

  @Test
  void defaultsCompileToAPlainDraw() {
    Chain chain = compile(config());
    assertThat(names(chain)).containsExactly("draw");
    assertThat(chain.seed()).isNull();
    assertThat(chain.topLogprobs()).isZero();
    assertThat(chain.explain()).isFalse();
  }

  @Test
  void neutralValuesAddNoStage() {
    SamplingConfig c = config().temperature(1f).topK(0).topP(1f).minP(0f).typicalP(1f)
        .topNSigma(0f).repetitionPenalty(1f).presencePenalty(0f).frequencyPenalty(0f)
        .penaltyLastN(-1).minTokens(3); // min_tokens without end tokens has nothing to suppress
    assertThat(names(compile(c))).containsExactly("draw");
    assertThat(names(compile(config().topK(-1)))).containsExactly("draw");
  }

  private static SamplingConfig everything() {
    return config().allowedTokenIds(1, 2, 3).bannedTokenIds(2).minTokens(1).eosTokenIds(3)
        .logitBias(TokenBias.of(new int[] {1}, new float[] {1f})).repetitionPenalty(1.1f)
        .presencePenalty(0.1f).processors(List.of(stage("top_k", Map.of("k", 50.0))))
        .temperature(0.7f).topNSigma(1f).topK(10).topP(0.9f).minP(0.05f).typicalP(0.95f);
  }

  @Test
  void temperatureFirstOrder() {
    assertThat(names(compile(everything()))).containsExactly("allowed_tokens", "banned_tokens",
        "min_tokens", "logit_bias", "repetition_penalty", "presence_frequency_penalty", "top_k",
        "temperature", "top_n_sigma", "top_k", "top_p", "min_p", "typical_p", "draw");
  }

  @Test
  void temperatureLastOrderIsLlamaCpps() {
    assertThat(names(compile(everything().temperatureLast(true)))).containsExactly(
        "allowed_tokens", "banned_tokens", "min_tokens", "logit_bias", "repetition_penalty",
        "presence_frequency_penalty", "top_k", "top_n_sigma", "top_k", "typical_p", "top_p",
        "min_p", "temperature", "draw");
  }

  @Test
  void temperatureZeroIsGreedyAfterTheProcessors() {
    assertThat(names(compile(everything().temperature(0f)))).containsExactly("allowed_tokens",
        "banned_tokens", "min_tokens", "logit_bias", "repetition_penalty",
        "presence_frequency_penalty", "top_k", "greedy");
    assertThat(names(compile(everything().temperature(0f).temperatureLast(true)))).containsExactly(
        "allowed_tokens", "banned_tokens", "min_tokens", "logit_bias", "repetition_penalty",
        "presence_frequency_penalty", "top_k", "top_n_sigma", "top_k", "typical_p", "top_p",
        "min_p", "greedy");
  }

  @Test
  void pipelineIsVerbatimAndGetsADrawWhenItHasNoSelector() {
    Chain chain = compile(pipeline(stage("top_p", Map.of("p", 0.5)), stage("temperature",
        Map.of("temperature", 2.0)), stage("top_k", Map.of("k", 3.0))));
    assertThat(names(chain)).containsExactly("top_p", "temperature", "top_k", "draw");
    assertThat(names(compile(pipeline(stage("greedy", Map.of()))))).containsExactly("greedy");
    // Seed, end tokens, logprob settings and explain go with pipeline.
    Chain withExtras = compile(pipeline(stage("draw", Map.of())).seed(5L).eosTokenIds(2)
        .stopTokenIds(3).topLogprobs(4).processedLogprobs(true).explain(true));
    assertThat(withExtras.seed()).isEqualTo(5L);
    assertThat(withExtras.ends().isEos(2)).isTrue();
    assertThat(withExtras.ends().isStop(3)).isTrue();
    assertThat(withExtras.ends().isEos(3)).isFalse();
    assertThat(withExtras.topLogprobs()).isEqualTo(4);
    assertThat(withExtras.processedLogprobs()).isTrue();
    assertThat(withExtras.explain()).isTrue();
  }

  @Test
  void stagesNameTheirPlugin() {
    Chain chain = compile(config().topK(3));
    assertThat(chain.processors().get(0).plugin()).isEqualTo("builtin");
    assertThat(chain.processors().get(0).processor()).isNotNull();
    assertThat(chain.processors().get(0).selector()).isNull();
    assertThat(chain.selector().selector()).isNotNull();
  }

  // ---- convenience field validation ------------------------------------------------------------

  @Test
  void temperatureBounds() {
    for (float bad : new float[] {-0.0001f, -1f, Float.NaN, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY}) {
      assertInvalid(config().temperature(bad), "temperature");
      assertInvalid(config().temperature(bad).temperatureLast(true), "temperature");
    }
    assertAccepted(config().temperature(0f));
    assertAccepted(config().temperature(Float.MIN_VALUE));
    assertAccepted(config().temperature(Float.MAX_VALUE));
  }

  @Test
  void topPBounds() {
    for (float bad : new float[] {0f, -0.5f, 1.0001f, Float.NaN, Float.POSITIVE_INFINITY}) {
      assertInvalid(config().topP(bad), "top_p");
      // Still validated when temperature 0 makes truncation moot.
      assertInvalid(config().topP(bad).temperature(0f), "top_p");
    }
    assertAccepted(config().topP(1f));
    assertAccepted(config().topP(Float.MIN_VALUE));
  }

  @Test
  void minPBounds() {
    for (float bad : new float[] {-0.0001f, 1.0001f, Float.NaN}) {
      assertInvalid(config().minP(bad), "min_p");
    }
    assertAccepted(config().minP(0f));
    assertAccepted(config().minP(1f));
  }

  @Test
  void typicalPBounds() {
    for (float bad : new float[] {0f, -0.1f, 1.0001f, Float.NaN}) {
      assertInvalid(config().typicalP(bad), "typical_p");
    }
    assertAccepted(config().typicalP(1f));
    assertAccepted(config().typicalP(0.01f));
  }

  @Test
  void topNSigmaMustBeFinite() {
    assertInvalid(config().topNSigma(Float.NaN), "top_n_sigma");
    assertInvalid(config().topNSigma(Float.POSITIVE_INFINITY), "top_n_sigma");
    assertAccepted(config().topNSigma(-3f)); // <= 0: off
    assertAccepted(config().topNSigma(2f));
  }

  @Test
  void topKBounds() {
    assertInvalid(config().topK(-2), "top_k");
    assertInvalid(config().topK(Integer.MIN_VALUE), "top_k");
    assertAccepted(config().topK(-1));
    assertAccepted(config().topK(0));
    assertAccepted(config().topK(Integer.MAX_VALUE));
  }

  @Test
  void repetitionPenaltyBounds() {
    for (float bad : new float[] {0f, -0.0f, -1f, Float.NaN, Float.POSITIVE_INFINITY}) {
      assertInvalid(config().repetitionPenalty(bad), "repetition_penalty");
    }
    assertAccepted(config().repetitionPenalty(Float.MIN_VALUE));
    assertAccepted(config().repetitionPenalty(1f));
  }

  @Test
  void presenceAndFrequencyBounds() {
    for (float bad : new float[] {2.0001f, -2.0001f, Float.NaN, Float.NEGATIVE_INFINITY}) {
      assertInvalid(config().presencePenalty(bad), "presence_penalty");
      assertInvalid(config().frequencyPenalty(bad), "frequency_penalty");
    }
    assertAccepted(config().presencePenalty(2f).frequencyPenalty(-2f));
    assertAccepted(config().presencePenalty(-2f).frequencyPenalty(2f));
  }

  @Test
  void penaltyLastNBounds() {
    assertInvalid(config().penaltyLastN(-2).repetitionPenalty(1.2f), "penalty_last_n");
    assertInvalid(config().penaltyLastN(-2).presencePenalty(0.5f), "penalty_last_n");
    // Invalid on its own too: a request is validated as a whole, whichever penalty is on.
    assertInvalid(config().penaltyLastN(-2), "penalty_last_n");
    assertInvalid(config().penaltyLastN(Integer.MIN_VALUE), "penalty_last_n");
    assertAccepted(config().penaltyLastN(-1));
    assertAccepted(config().penaltyLastN(0).repetitionPenalty(1.2f));
    assertAccepted(config().penaltyLastN(Integer.MAX_VALUE).frequencyPenalty(1f));
  }

  @Test
  void negativeTokenIds() {
    assertInvalid(config().eosTokenIds(1, -1), "eos_token_ids");
    assertInvalid(config().stopTokenIds(-5), "stop_token_ids");
    assertInvalid(config().allowedTokenIds(0, -1), "allowed_token_ids");
    assertInvalid(config().bannedTokenIds(-1), "banned_token_ids");
    assertInvalid(config().logitBias(TokenBias.of(new int[] {3, -1}, new float[] {1f, 1f})),
        "logit_bias");
    assertInvalid(pipeline(stage("banned_tokens", Map.of("token_ids", List.of(-1.0)))),
        "pipeline[0].params.token_ids");
  }

  @Test
  void logitBiasValuesMustBeFiniteOrMinusInfinity() {
    assertInvalid(config().logitBias(TokenBias.of(new int[] {3}, new float[] {Float.NaN})),
        "logit_bias");
    assertInvalid(config().logitBias(TokenBias.of(new int[] {3},
        new float[] {Float.POSITIVE_INFINITY})), "logit_bias");
    assertAccepted(config().logitBias(TokenBias.of(new int[] {3},
        new float[] {Float.NEGATIVE_INFINITY})));
  }

  @Test
  void topLogprobsLimit() {
    assertRefused(config().topLogprobs(21), ErrorCode.LIMIT_EXCEEDED, "top_logprobs");
    assertRefused(config().topLogprobs(0xffffffffL), ErrorCode.LIMIT_EXCEEDED, "top_logprobs");
    assertThat(compile(config().topLogprobs(20)).topLogprobs()).isEqualTo(20);
    assertThat(error(config().topLogprobs(21)).getMessage()).contains("20");
  }

  @Test
  void minTokensBeyondIntIsRefused() {
    assertInvalid(config().minTokens(0x80000000L).eosTokenIds(1), "min_tokens");
    assertAccepted(config().minTokens(Integer.MAX_VALUE).eosTokenIds(1));
  }

  // ---- pipeline --------------------------------------------------------------------------------

  @Test
  void pipelineRefusesEveryConvenienceField() {
    List<Consumer<SamplingConfig>> fields = List.of(
        c -> c.temperature(1f), c -> c.topK(5), c -> c.topP(0.9f), c -> c.minP(0.1f),
        c -> c.typicalP(0.9f), c -> c.topNSigma(1f), c -> c.repetitionPenalty(1.1f),
        c -> c.presencePenalty(0.1f), c -> c.frequencyPenalty(0.1f), c -> c.penaltyLastN(5),
        c -> c.logitBias(TokenBias.of(new int[] {1}, new float[] {1f})),
        c -> c.allowedTokenIds(1), c -> c.bannedTokenIds(1), c -> c.minTokens(1),
        c -> c.processors(List.of(StageSpec.of("greedy"))), c -> c.temperatureLast(true));
    for (Consumer<SamplingConfig> field : fields) {
      SamplingConfig c = pipeline(StageSpec.of("greedy"));
      field.accept(c);
      assertInvalid(c, "pipeline");
    }
  }

  @Test
  void unknownProcessorListsTheKnownNames() {
    TallyException e = error(pipeline(stage("top_k", Map.of("k", 1.0)), StageSpec.of("mirostat")));
    assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_PROCESSOR);
    assertThat(e.field()).isEqualTo("pipeline[1].name");
    assertThat(e.getMessage()).contains("mirostat").contains("top_k").contains("typical_p")
        .contains("greedy").contains("draw");
    assertRefused(config().processors(List.of(StageSpec.of("nope"))), ErrorCode.UNKNOWN_PROCESSOR,
        "processors[0].name");
  }

  @Test
  void selectorMustBeLast() {
    assertInvalid(pipeline(StageSpec.of("greedy"), stage("top_k", Map.of("k", 1.0))),
        "pipeline[0].name");
    assertInvalid(pipeline(StageSpec.of("draw"), StageSpec.of("greedy")), "pipeline[0].name");
    assertInvalid(config().processors(List.of(StageSpec.of("draw"))), "processors[0].name");
  }

  @Test
  void unknownParameterNamesProcessorAndParameter() {
    TallyException e = error(pipeline(stage("top_k", Map.of("kk", 3.0))));
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(e.field()).isEqualTo("pipeline[0].params.kk");
    assertThat(e.getMessage()).contains("top_k").contains("kk").contains("[k]");
  }

  @Test
  void wrongJsonTypeNamesProcessorAndParameter() {
    TallyException e = error(pipeline(stage("top_k", Map.of("k", "3"))));
    assertThat(e.field()).isEqualTo("pipeline[0].params.k");
    assertThat(e.getMessage()).contains("top_k.k").contains("an integer").contains("a string");
    assertInvalid(pipeline(stage("top_p", Map.of("p", true))), "pipeline[0].params.p");
    assertInvalid(pipeline(stage("allowed_tokens", Map.of("token_ids", 3.0))),
        "pipeline[0].params.token_ids");
    assertInvalid(pipeline(stage("logit_bias", Map.of("bias", List.of(1.0)))),
        "pipeline[0].params.bias");
    assertInvalid(pipeline(stage("logit_bias", Map.of("bias", Map.of("x", 1.0)))),
        "pipeline[0].params.bias");
    assertInvalid(pipeline(stage("logit_bias", Map.of("bias", Map.of("1", "a")))),
        "pipeline[0].params.bias");
    assertInvalid(config().processors(List.of(stage("top_p", Map.of("p", "x")))),
        "processors[0].params.p");
  }

  @Test
  void nonIntegerForAnIntegerParameter() {
    TallyException e = error(pipeline(stage("top_k", Map.of("k", 2.5))));
    assertThat(e.field()).isEqualTo("pipeline[0].params.k");
    assertThat(e.getMessage()).contains("top_k.k").contains("integer");
    assertInvalid(pipeline(stage("top_k", Map.of("k", Double.NaN))), "pipeline[0].params.k");
    assertInvalid(pipeline(stage("top_k", Map.of("k", 1e300))), "pipeline[0].params.k");
    assertInvalid(pipeline(stage("allowed_tokens", Map.of("token_ids", List.of(1.0, 1.5)))),
        "pipeline[0].params.token_ids");
    assertInvalid(pipeline(stage("allowed_tokens", Map.of("token_ids", List.of(3e9)))),
        "pipeline[0].params.token_ids");
    assertAccepted(pipeline(stage("top_k", Map.of("k", 2.0))));
    assertAccepted(pipeline(stage("top_k", Map.of("k", 2L))));
  }

  @Test
  void outOfRangeParameterShowsTheRange() {
    TallyException e = error(pipeline(stage("top_k", Map.of("k", 0.0))));
    assertThat(e.field()).isEqualTo("pipeline[0].params.k");
    assertThat(e.getMessage()).contains("top_k.k").contains("[1, 2147483647]");
    TallyException p = error(pipeline(stage("top_p", Map.of("p", 0.0))));
    assertThat(p.getMessage()).contains("top_p.p").contains("(0, 1]");
  }

  @Test
  void missingRequiredParameter() {
    TallyException e = error(pipeline(stage("top_k", Map.of())));
    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(e.field()).isEqualTo("pipeline[0].params.k");
    assertThat(e.getMessage()).contains("top_k.k").contains("required");
    Map<String, Object> nullValue = new HashMap<>();
    nullValue.put("k", null); // JSON null counts as absent
    assertInvalid(pipeline(new StageSpec("top_k", nullValue)), "pipeline[0].params.k");
    assertInvalid(pipeline(stage("min_tokens", Map.of("min_tokens", 2.0))),
        "pipeline[0].params.token_ids");
  }

  @Test
  void duplicateLogitBiasKeysAreAParamsError() {
    // "1" and "01" are the same token id.
    assertInvalid(pipeline(stage("logit_bias", Map.of("bias", Map.of("1", 1.0, "01", 2.0)))),
        "pipeline[0].params.bias");
  }

  // ---- vocabulary ------------------------------------------------------------------------------

  @Test
  void checkVocabularyNamesTheFieldWithTheLargestId() {
    Chain chain = compile(config().eosTokenIds(5).allowedTokenIds(2, 7)
        .logitBias(TokenBias.of(new int[] {9, 1}, new float[] {1f, 1f})));
    assertThatCode(() -> chain.checkVocabulary(10)).doesNotThrowAnyException();
    assertThatThrownBy(() -> chain.checkVocabulary(9)).isInstanceOfSatisfying(TallyException.class,
        e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
          assertThat(e.field()).isEqualTo("logit_bias");
          assertThat(e.getMessage()).contains("9");
        });

    Chain stop = compile(config().stopTokenIds(12).eosTokenIds(3).bannedTokenIds(4));
    assertThatThrownBy(() -> stop.checkVocabulary(12)).isInstanceOfSatisfying(TallyException.class,
        e -> assertThat(e.field()).isEqualTo("stop_token_ids"));
    assertThatCode(() -> stop.checkVocabulary(13)).doesNotThrowAnyException();

    Chain banned = compile(config().bannedTokenIds(4, 8));
    assertThatThrownBy(() -> banned.checkVocabulary(8)).isInstanceOfSatisfying(
        TallyException.class, e -> assertThat(e.field()).isEqualTo("banned_token_ids"));

    Chain nested = compile(pipeline(stage("banned_tokens", Map.of("token_ids", List.of(7.0)))));
    assertThatThrownBy(() -> nested.checkVocabulary(7)).isInstanceOfSatisfying(
        TallyException.class, e -> assertThat(e.field()).isEqualTo("pipeline[0].params.token_ids"));

    assertThatCode(() -> compile(config()).checkVocabulary(1)).doesNotThrowAnyException();
  }
  // ---- plugin factories ------------------------------------------------------------------------

  private static ProcessorFactory failingFactory(String name, RuntimeException runtime, Error error) {
    return Sampling.processor(name, params -> {
      if (runtime != null) {
        throw runtime;
      }
      throw error;
    });
  }

  private static final ChainCompiler WITH_FAILING = new ChainCompiler(ProcessorRegistry.builder()
      .install(new BuiltinPlugin()).install(new TallyPlugin() {
        @Override
        public String name() {
          return "flaky";
        }

        @Override
        public List<ProcessorFactory> processorFactories() {
          return List.of(
              failingFactory("bad_combo", new IllegalArgumentException("a and b conflict"), null),
              failingFactory("broken", new IllegalStateException("no model file"), null),
              failingFactory("unlinked", null, new NoClassDefFoundError("com/acme/Dep")));
        }
      }).build(), 20);

  @Test
  void factoryFailuresBecomeRequestErrors() {
    TallyException combo = catchCompile(pipeline(StageSpec.of("bad_combo")));
    assertThat(combo.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(combo.field()).isEqualTo("pipeline[0]");
    assertThat(combo.getMessage()).contains("bad_combo").contains("a and b conflict");

    TallyException broken = catchCompile(config().processors(List.of(StageSpec.of("broken"))));
    assertThat(broken.code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);
    assertThat(broken.field()).isEqualTo("processors[0]");
    assertThat(broken.getMessage()).contains("broken").contains("flaky");

    TallyException unlinked = catchCompile(pipeline(StageSpec.of("unlinked")));
    assertThat(unlinked.code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);
    assertThat(unlinked.field()).isEqualTo("pipeline[0]");
    assertThat(unlinked.getMessage()).contains("unlinked").contains("com/acme/Dep");
  }

  private static TallyException catchCompile(SamplingConfig c) {
    try {
      WITH_FAILING.compile(c);
    } catch (TallyException e) {
      return e;
    }
    throw new AssertionError("expected the config to be refused");
  }

  private static final ChainCompiler WITH_NOOP = new ChainCompiler(ProcessorRegistry.builder()
      .install(new BuiltinPlugin()).install(new TallyPlugin() {
        @Override
        public String name() {
          return "acme";
        }

        @Override
        public List<ProcessorFactory> processorFactories() {
          return List.of(Sampling.processor("noop", p -> (c, ctx) -> { }));
        }
      }).build(), 20);

  /** The raw top list is sized for the first top_k only when built-ins alone come before it. */
  @Test
  void rawTopHintIsTheFirstTopKAfterBuiltinsOnly() {
    assertThat(compile(config().repetitionPenalty(1.1f).topK(40).topP(0.9f)).rawTopHint())
        .isEqualTo(40);
    assertThat(compile(config().temperature(0.7f).topK(7)).rawTopHint()).isEqualTo(7);
    assertThat(compile(config().topP(0.9f)).rawTopHint()).isZero();
    assertThat(compile(pipeline(stage("top_k", Map.of("k", 12.0)), stage("top_k",
        Map.of("k", 3.0)))).rawTopHint()).isEqualTo(12);
    assertThat(WITH_NOOP.compile(pipeline(StageSpec.of("noop"), stage("top_k",
        Map.of("k", 5.0)))).rawTopHint()).isZero();
    assertThat(WITH_NOOP.compile(pipeline(stage("top_k", Map.of("k", 5.0)),
        StageSpec.of("noop"))).rawTopHint()).isEqualTo(5);
  }

  @Test
  void aChoiceIsSpelledAsAnAlternationWithEveryMetacharacterEscaped() {
    // The structured module's RegexTest compiles this very pattern and checks each string.
    assertThat(ChainCompiler.choicePattern(List.of("a.b", "(x|y)*", "\\", "{2}[]^$?+/")))
        .isEqualTo("a\\.b|\\(x\\|y\\)\\*|\\\\|\\{2\\}\\[\\]\\^\\$\\?\\+\\/");
    assertThatThrownBy(() -> ChainCompiler.choicePattern(List.of()))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.field()).isEqualTo("structured_output.choice");
          assertThat(e.getMessage()).isEqualTo("structured_output.choice needs at least one string");
        });
  }
}
