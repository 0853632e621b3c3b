package dev.tally.core.engine;

import static dev.tally.core.testing.Sampling.logSoftmax;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.processor.BuiltinPlugin;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.tensor.DType;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.core.testing.Sampling;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.TallyPlugin;
import dev.tally.spi.TokenBias;
import dev.tally.spi.TokenSelector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

final class RowSamplerTest {
  private static final float NEG_INF = Float.NEGATIVE_INFINITY;
  private static final double TOL = 1e-5;

  private static SamplingConfig config() {
    return new SamplingConfig();
  }

  private static Chain compile(SamplingConfig c) {
    return Sampling.compile(c);
  }

  private static RowResult sample(Chain chain, long seed, float... logits) {
    return new RowSampler().sample(LogitsTensor.ofFloats(1, logits.length, logits), 0, chain,
        TokenLog.empty(), seed);
  }

  private static RowResult sample(SamplingConfig c, float... logits) {
    return sample(compile(c), 7, logits);
  }

  /** Token ids by raw logit descending, id ascending. */
  private static int[] canonicalOrder(float[] logits) {
    return IntStream.range(0, logits.length).boxed()
        .sorted(Comparator.<Integer>comparingDouble(i -> -logits[i]).thenComparingInt(i -> i))
        .mapToInt(Integer::intValue).toArray();
  }

  // ---- logprobs and rank -----------------------------------------------------------------------

  @Test
  void rawLogprobIsTheDoubleLogSoftmax() {
    float[] logits = {1.5f, -2f, 0.25f, 3f, NEG_INF, 3f};
    double[] ref = logSoftmax(1.5, -2, 0.25, 3, Double.NEGATIVE_INFINITY, 3);
    for (long seed = 0; seed < 30; seed++) {
      RowResult r = sample(compile(config()), seed, logits);
      assertThat((double) r.logprob()).isCloseTo(ref[r.tokenId()], within(TOL));
      // No truncation: the processed view is the same softmax.
      assertThat((double) r.processedLogprob()).isCloseTo(ref[r.tokenId()], within(TOL));
    }
  }

  @Test
  void rawLogprobsOnA256kRow() {
    int vocab = 256_000;
    Random rnd = new Random(2024);
    float[] logits = new float[vocab];
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < vocab; i++) {
      logits[i] = (float) (3 * rnd.nextGaussian());
      max = Math.max(max, logits[i]);
    }
    double sum = 0;
    for (float l : logits) {
      sum += Math.exp(l - max);
    }
    double lse = max + Math.log(sum);
    int[] order = canonicalOrder(logits);

    RowResult r = sample(compile(config().topLogprobs(20)), 11, logits);
    assertThat((double) r.logprob()).isCloseTo(logits[r.tokenId()] - lse, within(TOL));
    assertThat(r.topIds()).containsExactly(Arrays.copyOf(order, 20));
    for (int i = 0; i < 20; i++) {
      assertThat((double) r.topLogprobs()[i]).isCloseTo(logits[order[i]] - lse, within(TOL));
    }
    long rank = IntStream.range(0, vocab).filter(v -> logits[v] >= logits[r.tokenId()]).count();
    assertThat(r.rank()).isEqualTo((int) rank);
  }

  /** The same for an extreme logit bias; a -inf bias still bans its token. */
  @Test
  void extremeBiasesSaturateAndMinusInfinityStillBans() {
    float[] logits = {3e38f, 2e38f, 1f};
    RowResult r = sample(config().logitBias(dev.tally.spi.TokenBias.of(new int[] {0, 1},
        new float[] {3e38f, Float.NEGATIVE_INFINITY})).temperature(0.5f), logits);
    assertThat(r.failed()).isFalse();
    assertThat(r.tokenId()).isZero();
    assertThat(r.processedLogprob()).isZero();
    RowResult banned = sample(config().logitBias(dev.tally.spi.TokenBias.of(new int[] {0, 1},
        new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY})), logits);
    assertThat(banned.tokenId()).isEqualTo(2);
  }

  /**
   * A Jazzer finding: an extreme repetition penalty overflowed a logit to +inf, and the processed
   * logprob came out NaN (inf - inf). The penalty now saturates at the float range.
   */
  @Test
  void extremePenaltiesSaturateInsteadOfOverflowing() {
    Chain chain = compile(config().repetitionPenalty(1.4e-45f).temperature(1.4e-45f));
    for (int[] history : new int[][] {{0}, {0, 1}}) {
      RowResult r = new RowSampler().sample(LogitsTensor.ofFloats(1, 3, 7.7e31f, 7.6e31f, -1f), 0,
          chain, TokenLog.of(history, new int[0]), 7);
      assertThat(r.failed()).as("history %s", java.util.Arrays.toString(history)).isFalse();
      assertThat(Float.isFinite(r.logprob())).isTrue();
      if (history.length == 1) { // token 0 saturates at the float max: it takes all the mass
        assertThat(r.tokenId()).isZero();
        assertThat(r.processedLogprob()).isZero();
      } else { // tokens 0 and 1 both saturate: a fair coin between them
        assertThat(r.tokenId()).isIn(0, 1);
        assertThat((double) r.processedLogprob()).isCloseTo(-Math.log(2), within(1e-6));
      }
    }
  }

  /**
   * The candidates borrow the raw row, and single-token writes (a bias, a temperature after top-k)
   * go into it until the row ends: the raw logprobs must not see them, and the result must be the
   * same as the same stages in an order that copies the row up front (a temperature over the
   * whole vocabulary).
   */
  @Test
  void aSharedRowIsNeverWrittenThrough() {
    float[] logits = {2f, 1f, 3f, 0.5f, -1f};
    Chain shared = withPlugin(new StageSpec("top_k", Map.of("k", 3.0)),
        new StageSpec("temperature", Map.of("temperature", 0.5)),
        new StageSpec("logit_bias", Map.of("bias", Map.of("0", 2.0))), StageSpec.of("draw"));
    Chain copied = withPlugin(new StageSpec("temperature", Map.of("temperature", 0.5)),
        new StageSpec("top_k", Map.of("k", 3.0)),
        new StageSpec("logit_bias", Map.of("bias", Map.of("0", 2.0))), StageSpec.of("draw"));
    RowSampler sampler = new RowSampler();
    double lse = Math.log(Math.exp(2) + Math.exp(1) + Math.exp(3) + Math.exp(0.5) + Math.exp(-1));
    for (long seed = 0; seed < 50; seed++) {
      LogitsTensor t = LogitsTensor.ofFloats(1, 5, logits);
      RowResult a = sampler.sample(t, 0, shared, TokenLog.empty(), seed);
      RowResult b = sampler.sample(t, 0, copied, TokenLog.empty(), seed);
      assertThat(a.tokenId()).isEqualTo(b.tokenId()).isIn(0, 1, 2);
      assertThat(a.processedLogprob()).isEqualTo(b.processedLogprob());
      assertThat((double) a.logprob()).isCloseTo(logits[a.tokenId()] - lse, within(1e-6));
    }
  }

  /** A plugin stage that writes +inf fails its row with a clear message, never a NaN logprob. */
  @Test
  void aChainThatProducesPositiveInfinityFailsTheRow() {
    for (String stage : new String[] {"infinite", "nan"}) {
      RowResult r = new RowSampler().sample(LogitsTensor.ofFloats(1, 3, 0f, 1f, 2f), 0,
          withPlugin(StageSpec.of(stage)), TokenLog.empty(), 3);
      assertThat(r.failed()).as(stage).isTrue();
      assertThat(r.error().code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);
      assertThat(r.error().getMessage()).contains("row 0: the chain's processors produced a logit of")
          .contains("logits must stay finite or -inf");
    }
  }

  @Test
  void rankCountsEveryTokenAtLeastAsLikelyAsTheChosenOne() {
    float[] logits = {1f, 3f, 3f, 2f, NEG_INF};
    int[][] chosenAndRank = {{2, 2}, {1, 2}, {3, 3}, {0, 4}};
    for (int[] cr : chosenAndRank) {
      RowResult r = sample(config().allowedTokenIds(cr[0]), logits);
      assertThat(r.tokenId()).isEqualTo(cr[0]);
      assertThat(r.rank()).as("rank of token %d", cr[0]).isEqualTo(cr[1]);
      assertThat(r.processedLogprob()).isZero(); // the only candidate
    }
  }

  @Test
  void rawTopLogprobsListTheBestRawTokensWhateverTheChain() {
    float[] logits = {1f, 3f, 3f, 2f, NEG_INF};
    double[] ref = logSoftmax(1, 3, 3, 2, Double.NEGATIVE_INFINITY);
    RowResult r = sample(config().topLogprobs(3).bannedTokenIds(1), logits);
    assertThat(r.topIds()).containsExactly(1, 2, 3); // raw: the banned token is listed
    assertThat(r.topLogprobs()[0]).isCloseTo((float) ref[1], within(1e-6f));
    assertThat(r.topLogprobs()[2]).isCloseTo((float) ref[3], within(1e-6f));

    RowResult all = sample(config().topLogprobs(10), logits);
    assertThat(all.topIds()).containsExactly(1, 2, 3, 0); // -inf is not an alternative
    RowResult none = sample(config(), logits);
    assertThat(none.topIds()).isEmpty();
    assertThat(none.topLogprobs()).isEmpty();
  }

  /**
   * A top_k after a penalty and a bias is answered from the raw top list when it provably can be;
   * tokens pushed down off it and tokens raised from far below it still land where a full sort of
   * the processed row puts them.
   */
  @Test
  void topKAfterPenaltiesAndBiasesKeepsExactlyTheProcessedRowsBest() {
    int vocab = 50_000;
    Random rnd = new Random(11);
    float[] logits = new float[vocab];
    for (int i = 0; i < vocab; i++) {
      logits[i] = (float) (3 * rnd.nextGaussian());
    }
    int[] order = canonicalOrder(logits);
    for (int trial = 0; trial < 4; trial++) {
      int[] history = trial == 0 ? new int[] {order[0], order[3], order[7]}
          : trial == 1 ? Arrays.copyOf(order, 40) // the whole top 40 penalised: the list runs dry
          : trial == 2 ? Arrays.copyOf(order, 400) // far more: the pass skips below the 40th of the list
          : new int[0];
      int[] raised = {order[500], order[20_000], order[49_999]};
      float[] biases = {6f, 30f, 0.5f};
      float[] processed = logits.clone();
      for (int id : history) {
        processed[id] = processed[id] > 0 ? processed[id] / 1.3f : processed[id] * 1.3f;
      }
      for (int i = 0; i < raised.length; i++) {
        processed[raised[i]] += biases[i];
      }
      int[] expected = Arrays.copyOf(canonicalOrder(processed), 40);
      SamplingConfig c = config().repetitionPenalty(1.3f).penaltyLastN(-1)
          .logitBias(TokenBias.of(raised, biases)).topK(40).topLogprobs(40)
          .processedLogprobs(true);
      RowResult r = new RowSampler().sample(LogitsTensor.ofFloats(1, vocab, logits), 0,
          compile(c), TokenLog.of(history, new int[0]), 3);
      assertThat(r.topIds()).as("trial %d", trial).containsExactly(expected);
    }
  }

  @Test
  void processedTopLogprobsListOnlySurvivors() {
    float[] logits = {1f, 3f, 3f, 2f, NEG_INF};
    RowResult r = sample(config().topK(2).topLogprobs(5).processedLogprobs(true), logits);
    assertThat(r.topIds()).containsExactly(1, 2);
    assertThat(r.topLogprobs()).containsExactly((float) Math.log(0.5), (float) Math.log(0.5));
    assertThat((double) r.processedLogprob()).isCloseTo(Math.log(0.5), within(TOL));
    assertThat(r.tokenId()).isIn(1, 2);

    RowResult temp = sample(config().temperature(0.5f).topLogprobs(2).processedLogprobs(true),
        logits);
    double[] ref = logSoftmax(2, 6, 6, 4, Double.NEGATIVE_INFINITY);
    assertThat(temp.topIds()).containsExactly(1, 2);
    assertThat((double) temp.topLogprobs()[0]).isCloseTo(ref[1], within(TOL));
    assertThat((double) temp.processedLogprob()).isCloseTo(ref[temp.tokenId()], within(TOL));
  }

  @Test
  void processedTopLogprobsOfGreedyAreTheChosenTokenWithCertainty() {
    RowResult r = sample(config().temperature(0f).topLogprobs(5).processedLogprobs(true),
        1f, 3f, 3f, 2f);
    assertThat(r.tokenId()).isEqualTo(1);
    assertThat(r.topIds()).containsExactly(1);
    assertThat(r.topLogprobs()).containsExactly(0f);
    assertThat(r.processedLogprob()).isZero();
    assertThat((double) r.logprob()).isCloseTo(logSoftmax(1, 3, 3, 2)[1], within(TOL));
  }

  @Test
  void processedLogprobIsTheLogSoftmaxOverTheSurvivors() {
    float[] logits = {0.5f, 2f, 1f, -1f, 1.5f};
    SamplingConfig c = config().topP(0.8f).temperature(0.7f);
    // Temperature first: logits / 0.7; survivors are the shortest prefix reaching 0.8.
    double[] scaled = new double[logits.length];
    for (int i = 0; i < logits.length; i++) {
      scaled[i] = logits[i] / 0.7f;
    }
    double[] p = logSoftmax(scaled);
    int[] order = canonicalOrder(logits);
    List<Integer> kept = new ArrayList<>();
    double mass = 0;
    for (int id : order) {
      kept.add(id);
      mass += Math.exp(p[id]);
      if (mass >= 0.8f) {
        break;
      }
    }
    double keptLse = Math.log(mass);
    for (long seed = 0; seed < 50; seed++) {
      RowResult r = sample(compile(c), seed, logits);
      assertThat(kept).contains(r.tokenId());
      assertThat((double) r.processedLogprob()).isCloseTo(p[r.tokenId()] - keptLse, within(TOL));
    }
  }

  // ---- scoring a given token (teacher forcing) ---------------------------------------------------

  private static RowResult score(SamplingConfig c, int target, float... logits) {
    return new RowSampler().sample(LogitsTensor.ofFloats(1, logits.length, logits), 0, compile(c),
        TokenLog.empty(), 7, target);
  }

  @Test
  void aScoredTokenGetsItsRawAndProcessedLogprobsWithoutADraw() {
    float[] logits = {0.5f, 2f, 1f, -1f, 1.5f, 2f};
    SamplingConfig c = config().topK(3).temperature(0.7f).topLogprobs(2).eosTokenIds(new int[] {2});
    double[] raw = logSoftmax(0.5, 2, 1, -1, 1.5, 2);
    double[] kept = logSoftmax(2 / 0.7f, 1.5f / 0.7f, 2 / 0.7f); // tokens 1, 4, 5 survive top-k 3
    for (int target = 0; target < logits.length; target++) {
      RowResult r = score(c, target, logits);
      assertThat(r.failed()).as("%s", r.error()).isFalse();
      assertThat(r.tokenId()).isEqualTo(target);
      assertThat(r.scored()).isTrue();
      assertThat(r.finish()).as("a given token never ends the sequence, EOS included")
          .isEqualTo(RowResult.Finish.NONE);
      assertThat((double) r.logprob()).isCloseTo(raw[target], within(TOL));
      assertThat(r.rank()).isEqualTo(new int[] {5, 2, 4, 6, 3, 2}[target]);
      assertThat(r.isGreedy()).as("raw argmax, ties to the lowest id: token 1")
          .isEqualTo(target == 1);
      assertThat(r.topIds()).containsExactly(1, 5); // raw top-2, whatever the target
      int at = target == 1 ? 0 : target == 4 ? 1 : target == 5 ? 2 : -1;
      if (at < 0) {
        assertThat(r.processedLogprob()).as("removed by top-k").isEqualTo(NEG_INF);
      } else {
        assertThat((double) r.processedLogprob()).isCloseTo(kept[at], within(TOL));
      }
    }
  }

  @Test
  void aScoredTokenUnderGreedyHasProbabilityOneOrZero() {
    SamplingConfig c = config().temperature(0f).topLogprobs(3).processedLogprobs(true);
    RowResult best = score(c, 1, 1f, 3f, 3f, 2f);
    assertThat(best.processedLogprob()).isZero();
    assertThat(best.topIds()).containsExactly(1);
    RowResult tie = score(c, 2, 1f, 3f, 3f, 2f);
    assertThat(tie.processedLogprob()).isEqualTo(NEG_INF);
    assertThat(tie.isGreedy()).isFalse();
    assertThat(tie.topIds()).containsExactly(1); // the processed distribution: all on token 1
  }

  @Test
  void aScoredTokenWhenNoCandidateIsLeftIsMinusInfinityNotAnError() {
    RowResult r = score(config().bannedTokenIds(new int[] {0, 1, 2}).topLogprobs(2)
        .processedLogprobs(true), 1, 1f, 2f, 3f);
    assertThat(r.failed()).isFalse();
    assertThat(r.processedLogprob()).isEqualTo(NEG_INF);
    assertThat(r.topIds()).isEmpty();
    assertThat((double) r.logprob()).isCloseTo(logSoftmax(1, 2, 3)[1], within(TOL));
  }

  @Test
  void aScoredTokenMustBeInTheRowAndNotBesideLabels() {
    RowResult out = score(config(), 3, 1f, 2f, 3f);
    assertThat(out.error().code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(out.error().getMessage())
        .isEqualTo("row 0: the target token 3 is outside the vocabulary of 3");
    RowResult labels = score(config().labelTokenIds(new int[] {0, 1}), 1, 1f, 2f, 3f);
    assertThat(labels.error().code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(labels.error().getMessage()).contains("label_token_ids");
  }

  // ---- bad rows --------------------------------------------------------------------------------

  @Test
  void nanOrPositiveInfinityFailsTheRowNamingRowAndToken() {
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
      float[] values = {0f, 1f, 2f, 3f, /* row 1: */ 0f, 1f, 2f, bad};
      LogitsTensor t = LogitsTensor.ofFloats(2, 4, values);
      RowSampler sampler = new RowSampler();
      RowResult r = sampler.sample(t, 1, compile(config()), TokenLog.empty(), 1);
      assertThat(r.failed()).isTrue();
      assertThat(r.tokenId()).isEqualTo(-1);
      assertThat(r.error().code()).isEqualTo(ErrorCode.INVALID_LOGITS);
      assertThat(r.error().field()).isEqualTo("logits.data");
      assertThat(r.error().getMessage()).contains("row 1").contains("token 3");
      assertThat(r.seed()).isEqualTo(1);
      // The other row samples fine with the same sampler.
      assertThat(sampler.sample(t, 0, compile(config()), TokenLog.empty(), 1).failed()).isFalse();
    }
  }

  @Test
  void minusInfinityIsAMaskNotAnError() {
    RowResult r = sample(config(), NEG_INF, 0f, NEG_INF);
    assertThat(r.tokenId()).isEqualTo(1);
    assertThat(r.logprob()).isZero();
    assertThat(r.rank()).isEqualTo(1);
  }

  @Test
  void allMinusInfinityHasNoCandidates() {
    RowResult r = sample(config(), NEG_INF, NEG_INF);
    assertThat(r.error().code()).isEqualTo(ErrorCode.NO_CANDIDATES);
    assertThat(r.error().getMessage()).contains("row 0");
    RowResult banned = sample(config().bannedTokenIds(0, 1), 1f, 2f);
    assertThat(banned.error().code()).isEqualTo(ErrorCode.NO_CANDIDATES);
  }

  @Test
  void historyOrParamsOutsideTheVocabularyFailTheRow() {
    RowResult h = new RowSampler().sample(LogitsTensor.ofFloats(1, 3, 0f, 0f, 0f), 0,
        compile(config()), TokenLog.of(new int[] {0, 3}, new int[0]), 1);
    assertThat(h.error().code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(h.error().field()).isEqualTo("histories");
    RowResult p = sample(config().bannedTokenIds(5), 0f, 0f, 0f);
    assertThat(p.error().code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(p.error().field()).isEqualTo("banned_token_ids");
  }

  // ---- plugins ---------------------------------------------------------------------------------

  private static final class TestPlugin implements TallyPlugin {
    @Override
    public String name() {
      return "testplugin";
    }

    @Override
    public List<ProcessorFactory> processorFactories() {
      return List.of(Sampling.processor("boom", p -> (c, ctx) -> {
        throw new IllegalStateException("kaboom");
      }), Sampling.processor("linkage", p -> (c, ctx) -> {
        throw new NoClassDefFoundError("com/acme/Missing"); // a jar missing from the plugin
      }), Sampling.processor("asserts", p -> (c, ctx) -> {
        throw new AssertionError("invariant");
      }), Sampling.processor("recurses", p -> (c, ctx) -> recurse(1)),
          Sampling.processor("sneaky", p -> (c, ctx) -> RowSamplerTest.<RuntimeException>sneakyThrow(
              new java.io.IOException("checked, undeclared (as Kotlin or Scala may throw)"))),
          Sampling.processor("infinite", p -> (c, ctx) -> c.setLogit(1, Float.POSITIVE_INFINITY)),
          Sampling.processor("nan", p -> (c, ctx) -> c.setLogit(2, Float.NaN)));
    }

    @Override
    public List<SelectorFactory> selectorFactories() {
      return List.of(selector("liar", (c, ctx) -> 0), selector("thrower", (c, ctx) -> {
        throw new ArithmeticException("nope");
      }), selector("outside", (c, ctx) -> 1_000));
    }
  }

  private static int recurse(int depth) {
    return recurse(depth + 1) + 1;
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> void sneakyThrow(Throwable t) throws E {
    throw (E) t;
  }

  private static SelectorFactory selector(String name, TokenSelector s) {
    return new SelectorFactory() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String description() {
        return "Test selector.";
      }

      @Override
      public List<ParamSpec> params() {
        return List.of();
      }

      @Override
      public TokenSelector create(Params params) {
        return s;
      }
    };
  }

  private static final ChainCompiler WITH_PLUGIN = new ChainCompiler(ProcessorRegistry.builder()
      .install(new BuiltinPlugin()).install(new TestPlugin()).build(), 20);

  private static Chain withPlugin(StageSpec... pipeline) {
    return WITH_PLUGIN.compile(config().pipeline(List.of(pipeline)));
  }

  @Test
  void aThrowingPluginProcessorFailsOnlyItsRow() {
    LogitsTensor t = LogitsTensor.ofFloats(2, 2, 0f, 1f, 1f, 0f);
    RowSampler sampler = new RowSampler();
    RowResult bad = sampler.sample(t, 1, withPlugin(new StageSpec("top_k", Map.of("k", 1.0)),
        StageSpec.of("boom")), TokenLog.empty(), 3);
    assertThat(bad.failed()).isTrue();
    assertThat(bad.tokenId()).isEqualTo(-1);
    assertThat(bad.error().code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);
    assertThat(bad.error().getMessage()).contains("row 1").contains("boom").contains("testplugin")
        .contains("kaboom");
    assertThat(bad.error().getCause()).isInstanceOf(IllegalStateException.class);

    RowResult good = sampler.sample(t, 0, withPlugin(StageSpec.of("greedy")), TokenLog.empty(), 3);
    assertThat(good.failed()).isFalse();
    assertThat(good.tokenId()).isEqualTo(1);
  }

  @Test
  void pluginErrorsAndUndeclaredCheckedExceptionsAlsoFailOnlyTheRow() {
    // DESIGN §4: a plugin can never crash the server or another row. Not only RuntimeExceptions:
    // a missing class in the plugin's jar, a failed assert, runaway recursion, or a checked
    // exception thrown without being declared must all end as this row's PROCESSOR_FAILED.
    LogitsTensor t = LogitsTensor.ofFloats(2, 2, 0f, 1f, 1f, 0f);
    RowSampler sampler = new RowSampler();
    for (String name : List.of("linkage", "asserts", "recurses", "sneaky")) {
      RowResult bad = sampler.sample(t, 1, withPlugin(StageSpec.of(name)), TokenLog.empty(), 3);
      assertThat(bad.failed()).as(name).isTrue();
      assertThat(bad.error().code()).as(name).isEqualTo(ErrorCode.PROCESSOR_FAILED);
      assertThat(bad.error().getMessage()).contains("row 1").contains(name).contains("testplugin");
      assertThat(sampler.sample(t, 0, withPlugin(StageSpec.of("greedy")), TokenLog.empty(), 3)
          .tokenId()).isEqualTo(1);
    }
  }

  @Test
  void aThrowingOrLyingPluginSelectorFailsTheRow() {
    RowResult thrown = sample(withPlugin(StageSpec.of("thrower")), 1, 0f, 1f);
    assertThat(thrown.error().code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);
    assertThat(thrown.error().getMessage()).contains("thrower").contains("nope");

    // "liar" always picks token 0, which banned_tokens removed.
    RowResult lie = sample(withPlugin(new StageSpec("banned_tokens", Map.of("token_ids",
        List.of(0.0))), StageSpec.of("liar")), 1, 0f, 1f);
    assertThat(lie.error().code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);
    assertThat(lie.error().getMessage()).contains("liar").contains("token 0");

    RowResult truncated = sample(withPlugin(new StageSpec("top_k", Map.of("k", 1.0)),
        StageSpec.of("liar")), 1, 0f, 1f);
    assertThat(truncated.error().code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);

    RowResult outside = sample(withPlugin(StageSpec.of("outside")), 1, 0f, 1f);
    assertThat(outside.error().code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);
    assertThat(outside.error().getMessage()).contains("1000");

    RowResult honest = sample(withPlugin(StageSpec.of("liar")), 1, 0f, 1f);
    assertThat(honest.tokenId()).isZero();
  }

  // ---- explain -------------------------------------------------------------------------------

  @Test
  void explainTracesEveryStageWithTheSelectorLast() {
    float[] logits = {1f, 2f, 3f, 0f};
    SamplingConfig c = config().temperature(0.5f).topK(2).explain(true);
    RowResult r = sample(c, logits);
    List<RowResult.StageTrace> stages = r.stages();
    assertThat(stages).extracting(s -> s.name).containsExactly("temperature", "top_k", "draw");
    assertThat(stages).extracting(s -> s.candidates).containsExactly(4, 2, 2);

    double[] p = logSoftmax(2, 4, 6, 0);
    double entropy = 0;
    for (double lp : p) {
      entropy -= Math.exp(lp) * lp;
    }
    assertThat(stages.get(0).entropy).isCloseTo(entropy, within(1e-9));
    assertThat(stages.get(0).topLogitGap).isEqualTo(2f);
    assertThat(stages.get(0).chosenProbability).isCloseTo(Math.exp(p[r.tokenId()]), within(1e-9));
    assertThat(stages.get(2).chosenProbability)
        .isCloseTo(Math.exp(r.processedLogprob()), within(1e-6));
    assertThat(r.topLogitGap()).isEqualTo(1f);

    // Explain does not change the draw.
    RowResult plain = sample(config().temperature(0.5f).topK(2), logits);
    assertThat(plain.tokenId()).isEqualTo(r.tokenId());
    assertThat(plain.processedLogprob()).isEqualTo(r.processedLogprob());
    assertThat(plain.stages()).isEmpty();
  }

  @Test
  void explainOfGreedyReportsCertainty() {
    RowResult r = sample(config().temperature(0f).explain(true), 1f, 2f, 2f);
    assertThat(r.tokenId()).isEqualTo(1);
    assertThat(r.stages()).hasSize(1);
    RowResult.StageTrace last = r.stages().get(0);
    assertThat(last.name).isEqualTo("greedy");
    assertThat(last.candidates).isEqualTo(3);
    assertThat(last.chosenProbability).isEqualTo(1.0);
    assertThat(r.topLogitGap()).isZero();
  }

  // ---- dtypes, determinism, reuse --------------------------------------------------------------

  private static ByteBuffer encode(DType dtype, float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      int bits = Float.floatToRawIntBits(v);
      switch (dtype) {
        case FLOAT32:
          b.putFloat(v);
          break;
        case BFLOAT16:
          assertThat(bits & 0xffff).as("%s fits bfloat16", v).isZero();
          b.putShort((short) (bits >>> 16));
          break;
        case FLOAT16:
          b.putShort(toHalf(v));
          break;
        default:
          throw new AssertionError(dtype);
      }
    }
    return b.flip();
  }

  /** float -> binary16 for values that are exactly representable (normal range or ±inf). */
  private static short toHalf(float v) {
    if (v == NEG_INF) {
      return (short) 0xfc00;
    }
    int bits = Float.floatToRawIntBits(v);
    int sign = (bits >>> 16) & 0x8000;
    if ((bits & 0x7fffffff) == 0) {
      return (short) sign;
    }
    int exponent = ((bits >>> 23) & 0xff) - 127 + 15;
    int mantissa = bits & 0x7fffff;
    assertThat(exponent).isBetween(1, 30);
    assertThat(mantissa & 0x1fff).as("%s fits float16", v).isZero();
    return (short) (sign | (exponent << 10) | (mantissa >>> 13));
  }

  @Test
  void halfPrecisionRowsThatEncodeTheSameValuesSampleTheSame() {
    float[] values = {1.5f, -2.25f, 0.5f, 3f, NEG_INF, 3f, -0.0f, 2.75f, 0.125f, -8f};
    SamplingConfig c = config().temperature(0.8f).topK(6).topLogprobs(5);
    Chain chain = compile(c);
    for (long seed = 0; seed < 40; seed++) {
      RowResult ref = sample(chain, seed, values);
      for (DType dtype : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {
        LogitsTensor t = LogitsTensor.of(dtype, 1, values.length, encode(dtype, values));
        RowResult r = new RowSampler().sample(t, 0, chain, TokenLog.empty(), seed);
        assertThat(r.tokenId()).as("%s seed %d", dtype, seed).isEqualTo(ref.tokenId());
        assertThat(r.logprob()).isEqualTo(ref.logprob());
        assertThat(r.processedLogprob()).isEqualTo(ref.processedLogprob());
        assertThat(r.rank()).isEqualTo(ref.rank());
        assertThat(r.topIds()).containsExactly(ref.topIds());
        assertThat(r.topLogprobs()).containsExactly(ref.topLogprobs());
      }
    }
  }

  @Test
  void sameSeedAndHistoryGiveTheSameTokenWhateverTheRowOrSampler() {
    float[] row = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f};
    float[] batch = new float[15];
    System.arraycopy(row, 0, batch, 10, 5); // row 2 of a 3-row batch
    Chain chain = compile(config().temperature(1.3f).topP(0.95f));
    RowSampler shared = new RowSampler();
    // Warm the shared sampler with a larger vocabulary so its buffers are oversized.
    Random rnd = new Random(5);
    float[] big = new float[5000];
    for (int i = 0; i < big.length; i++) {
      big[i] = (float) rnd.nextGaussian();
    }
    shared.sample(LogitsTensor.ofFloats(1, big.length, big), 0, chain, TokenLog.empty(), 1);
    for (long seed = 0; seed < 100; seed++) {
      TokenLog h = TokenLog.of(new int[] {1, 2}, new int[] {3});
      RowResult alone = new RowSampler().sample(LogitsTensor.ofFloats(1, 5, row), 0, chain, h,
          seed);
      RowResult inBatch = shared.sample(LogitsTensor.ofFloats(3, 5, batch), 2, chain, h, seed);
      assertThat(inBatch.tokenId()).isEqualTo(alone.tokenId());
      assertThat(inBatch.processedLogprob()).isEqualTo(alone.processedLogprob());
    }
  }

  @Test
  void finishReasonFollowsTheChosenToken() {
    SamplingConfig c = config().temperature(0f).eosTokenIds(2).stopTokenIds(1);
    assertThat(sample(c, 0f, 0f, 5f).finish()).isEqualTo(RowResult.Finish.EOS_TOKEN);
    assertThat(sample(c, 0f, 5f, 0f).finish()).isEqualTo(RowResult.Finish.STOP_TOKEN);
    assertThat(sample(c, 5f, 0f, 0f).finish()).isEqualTo(RowResult.Finish.NONE);
  }

  /**
   * The row scan's top list over rows of several chunks with many ties: the raw top-N, the rank
   * and the raw logprob equal a brute-force sort of the row, whatever the chain wrote into the
   * borrowed row (penalties on the history, a temperature after top-k).
   */
  @Test
  void rawTopListAndRankMatchABruteForceSortAcrossChunks() {
    Random random = new Random(77);
    RowSampler sampler = new RowSampler();
    for (int trial = 0; trial < 80; trial++) {
      int vocab = 1 + random.nextInt(9000);
      float[] logits = new float[vocab];
      for (int i = 0; i < vocab; i++) { // quarter steps: ties everywhere, also at the list's edge
        logits[i] = random.nextInt(10) == 0 ? Float.NEGATIVE_INFINITY
            : Math.round(8 * random.nextGaussian()) / 4f;
      }
      if (trial % 5 == 4) { // the first chunk, which bounds the list, nearly empty or all best
        boolean empty = trial % 10 == 4;
        for (int i = 0; i < Math.min(vocab, 2048); i++) {
          logits[i] = empty && i % 700 != 0 ? Float.NEGATIVE_INFINITY : empty ? logits[i] : 9f;
        }
      }
      logits[random.nextInt(vocab)] = 0f;
      int n = 1 + random.nextInt(40);
      SamplingConfig config = trial % 3 == 0 ? new SamplingConfig().temperature(1.3f)
          : trial % 3 == 1 ? new SamplingConfig().repetitionPenalty(1.5f).topK(50).temperature(0.7f)
              .temperatureLast(true) : new SamplingConfig().temperature(0f);
      Chain chain = Sampling.compile(config.topLogprobs(n));
      int[] history = new int[20];
      for (int i = 0; i < history.length; i++) {
        history[i] = random.nextInt(vocab);
      }
      RowResult r = sampler.sample(LogitsTensor.ofFloats(1, vocab, logits), 0, chain,
          TokenLog.of(history, new int[0]), trial);
      Integer[] order = IntStream.range(0, vocab).filter(i -> logits[i] != Float.NEGATIVE_INFINITY)
          .boxed().sorted(Comparator.<Integer>comparingDouble(i -> -logits[i])
              .thenComparingInt(i -> i)).toArray(Integer[]::new);
      int count = Math.min(n, order.length);
      double[] x = new double[vocab];
      for (int i = 0; i < vocab; i++) {
        x[i] = logits[i];
      }
      double[] expected = logSoftmax(x);
      assertThat(r.failed()).as("trial %d", trial).isFalse();
      assertThat(r.topIds()).as("trial %d", trial)
          .containsExactly(Arrays.stream(order, 0, count).mapToInt(i -> i).toArray());
      for (int i = 0; i < count; i++) {
        assertThat((double) r.topLogprobs()[i]).isCloseTo(expected[order[i]], within(1e-5));
      }
      int rank = 0;
      for (float v : logits) {
        rank += v >= logits[r.tokenId()] ? 1 : 0;
      }
      assertThat(r.rank()).as("trial %d: rank", trial).isEqualTo(rank);
      assertThat((double) r.logprob()).isCloseTo(expected[r.tokenId()], within(1e-5));
    }
  }

  /**
   * A nucleus first reads the softmax terms the engine kept in its Σexp pass; the same nucleus
   * after a stage that writes (a zero logit bias, which rewrites token 0 unchanged) computes them.
   * Same bits, so the same tokens and logprobs for every seed.
   */
  @Test
  void keptTermsGiveTheSameDrawsAsComputedOnes() {
    Chain kept = withPlugin(new StageSpec("top_p", Map.of("p", 0.9)), StageSpec.of("draw"));
    Chain computed = withPlugin(new StageSpec("logit_bias", Map.of("bias", Map.of("0", 0.0))),
        new StageSpec("top_p", Map.of("p", 0.9)), StageSpec.of("draw"));
    assertThat(kept.readsRawTerms()).isTrue();
    assertThat(computed.readsRawTerms()).isFalse();
    Random random = new Random(3);
    RowSampler sampler = new RowSampler();
    for (int trial = 0; trial < 40; trial++) {
      int vocab = 2000 + random.nextInt(30000);
      float[] logits = new float[vocab];
      for (int i = 0; i < vocab; i++) {
        logits[i] = (float) (3 * random.nextGaussian());
      }
      LogitsTensor t = LogitsTensor.ofFloats(1, vocab, logits);
      RowResult a = sampler.sample(t, 0, kept, TokenLog.empty(), trial);
      RowResult b = sampler.sample(t, 0, computed, TokenLog.empty(), trial);
      assertThat(a.tokenId()).as("trial %d", trial).isEqualTo(b.tokenId());
      assertThat(a.processedLogprob()).as("trial %d", trial).isEqualTo(b.processedLogprob());
      assertThat(a.logprob()).isEqualTo(b.logprob());
    }
  }
}
