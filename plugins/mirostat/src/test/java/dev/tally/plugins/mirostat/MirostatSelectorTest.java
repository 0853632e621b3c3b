package dev.tally.plugins.mirostat;

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
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Mirostat against llama.cpp's algorithm ({@code src/llama-sampling.cpp}, {@code
 * llama_sampler_mirostat[_v2]_apply}). llama.cpp's {@code tests/test-sampling.cpp} has no
 * Mirostat vectors; the μ-update expectations below are those of vLLM's Mirostat tests ({@code
 * tests/v1/sample/test_mirostat.py} @ 9b6fe1a: μ starts at 2τ, a uniform 1024-token row moves μ
 * from 10 to 9.5, a peaked row raises μ, μ = 0.5 keeps only the argmax of [10, 9.9, 1, −5]); the
 * truncation sets are worked out by hand from llama.cpp's formulas.
 */
final class MirostatSelectorTest {
  private static final ProcessorRegistry REGISTRY =
      ProcessorRegistry.fromServiceLoader(MirostatSelectorTest.class.getClassLoader());

  /** A context with a fixed history and a fixed uniform number. */
  private static SamplingContext context(double u) {
    TokenLog history = TokenLog.of(new int[] {1}, new int[0]);
    return new SamplingContext() {
      @Override
      public TokenHistory history() {
        return history;
      }

      @Override
      public long seed() {
        return 1;
      }

      @Override
      public double random(int stream) {
        return u;
      }
    };
  }

  private static MirostatSelector v2(double tau, double eta) {
    return new MirostatSelector(true, (float) tau, (float) eta, 100);
  }

  private static float[] logs(double... p) {
    float[] l = new float[p.length];
    for (int i = 0; i < p.length; i++) {
      l[i] = (float) Math.log(p[i]);
    }
    return l;
  }

  @Test
  void muStartsAtTwiceTauAndResets() {
    MuState s = v2(4, 0.1).newState(TokenLog.empty());
    assertThat(s.mu()).isEqualTo(8f);
    s.drew(3, 1f);
    s.accept(3);
    assertThat(s.mu()).isNotEqualTo(8f);
    s.reset();
    assertThat(s.mu()).isEqualTo(8f);
  }

  @Test
  void uniformRowMovesMuByEtaTimesSurpriseError() {
    // vLLM test_update_mu_moves_toward_target: V = 1024 uniform, surprise log2(1024) = 10 bits,
    // mu 10 -> 10 - 0.1 * (10 - 5) = 9.5. Every token has surprise 10 <= mu, so none is cut.
    MirostatSelector s = v2(5, 0.1);
    MuState state = s.newState(TokenLog.empty());
    Candidates c = Candidates.of(new float[1024]);
    int chosen = s.select(c, context(0.3), state);
    assertThat(c.size()).isEqualTo(1024);
    state.accept(chosen);
    assertThat(state.mu()).isCloseTo(9.5f, within(1e-5f));
  }

  @Test
  void confidentDrawRaisesMu() {
    // vLLM test_update_mu_increases_when_confident: one token at 50, the rest at -50.
    MirostatSelector s = v2(5, 0.1);
    MuState state = s.newState(TokenLog.empty());
    float[] logits = new float[512];
    java.util.Arrays.fill(logits, -50f);
    logits[0] = 50f;
    int chosen = s.select(Candidates.of(logits), context(0.9), state);
    assertThat(chosen).isZero();
    state.accept(chosen);
    assertThat(state.mu()).isGreaterThan(10f);
  }

  @Test
  void smallMuKeepsOnlyTheArgmax() {
    // vLLM test_apply_to_logits_truncates_high_surprise_but_keeps_argmax: mu = 0.5 (tau 0.25).
    // p(10) = 0.525, surprise 0.93 bits > 0.5: llama.cpp keeps no token, then at least one.
    MirostatSelector s = v2(0.25, 0.1);
    Candidates c = Candidates.of(10f, 9.9f, 1f, -5f);
    int chosen = s.select(c, context(0.99), s.newState(TokenLog.empty()));
    assertThat(chosen).isZero();
    assertThat(c.size()).isEqualTo(1);
  }

  @Test
  void v2KeepsTheTokensWhoseSurpriseIsAtMostMu() {
    // p = [1/2, 1/4, 1/8, 1/8]: surprises 1, 2, 3, 3 bits (μ just above each, as float logits
    // put the surprises a hair off the integers).
    double[][] cases = {{0.9, 1}, {1.01, 1}, {2.01, 2}, {2.99, 2}, {3.01, 4}, {8.0, 4}};
    for (double[] k : cases) {
      MirostatSelector s = v2(k[0] / 2, 0.1);
      Candidates c = Candidates.of(logs(0.5, 0.25, 0.125, 0.125));
      s.select(c, context(0.0), s.newState(TokenLog.empty()));
      assertThat(c.size()).as("mu = " + k[0]).isEqualTo((int) k[1]);
    }
  }

  @Test
  void v2DrawsFromTheRenormalisedSurvivorsAndNotesTheSurprise() {
    // mu = 2.01: keeps 1/2 and 1/4, renormalised to 2/3 and 1/3.
    MirostatSelector s = v2(1.005, 0.5);
    for (double u : new double[] {0.0, 0.66, 0.67, 0.999}) {
      MuState state = s.newState(TokenLog.empty());
      int chosen = s.select(Candidates.of(logs(0.5, 0.25, 0.125, 0.125)), context(u), state);
      assertThat(chosen).as("u = " + u).isEqualTo(u < 2 / 3.0 ? 0 : 1);
      state.accept(chosen);
      double surprise = -Math.log(chosen == 0 ? 2 / 3.0 : 1 / 3.0) / Math.log(2);
      assertThat((double) state.mu()).isCloseTo(2.01 - 0.5 * (surprise - 1.005), within(1e-5));
    }
  }

  @Test
  void v1KeepsTheTopKOfTheZipfEstimate() {
    // An exact Zipf row p_i ∝ 1/i^s over V = 200 tokens: the least-squares estimate is s itself,
    // so k = (ε·2^μ / (1 − V^−ε))^(1/s) with ε = s − 1 (llama.cpp's formula, m = 100).
    int vocab = 200;
    double s = 1.3;
    float[] logits = new float[vocab];
    for (int i = 0; i < vocab; i++) {
      logits[i] = (float) (-s * Math.log(i + 1));
    }
    for (double mu : new double[] {2, 4, 6, 9}) {
      double eps = s - 1;
      int k = (int) Math.pow(eps * Math.pow(2, mu) / (1 - Math.pow(vocab, -eps)), 1 / s);
      MirostatSelector v1 = new MirostatSelector(false, (float) (mu / 2), 0.1f, 100);
      Candidates c = Candidates.of(logits);
      v1.select(c, context(0.5), v1.newState(TokenLog.empty()));
      assertThat(c.size()).as("mu = " + mu).isEqualTo(Math.max(1, Math.min(k, vocab)));
      for (int i = 0; i < c.size(); i++) {
        assertThat(c.id(i)).isEqualTo(i); // the k most likely, in order
      }
    }
  }

  @Test
  void v1WithOneCandidateChoosesIt() {
    MirostatSelector v1 = new MirostatSelector(false, 5f, 0.1f, 100);
    float[] logits = {Float.NEGATIVE_INFINITY, 3f, Float.NEGATIVE_INFINITY};
    assertThat(v1.select(Candidates.of(logits), context(0.7), v1.newState(TokenLog.empty())))
        .isEqualTo(1);
  }

  @Test
  void aForcedTokenLeavesMuAlone() {
    MirostatSelector s = v2(5, 0.1);
    MuState state = s.newState(TokenLog.empty());
    int chosen = s.select(Candidates.of(new float[1024]), context(0.3), state);
    state.accept(chosen == 7 ? 8 : 7); // the model server placed another token
    assertThat(state.mu()).isEqualTo(10f);
  }

  @Test
  void copyIsIndependent() {
    MirostatSelector s = v2(5, 0.1);
    MuState state = s.newState(TokenLog.empty());
    int chosen = s.select(Candidates.of(new float[1024]), context(0.3), state);
    MuState copy = state.copy();
    state.accept(chosen);
    assertThat(state.mu()).isCloseTo(9.5f, within(1e-5f));
    assertThat(copy.mu()).isEqualTo(10f);
    copy.accept(chosen); // the copy still remembers what was drawn
    assertThat(copy.mu()).isCloseTo(9.5f, within(1e-5f));
  }

  // ---- through the engine, as the server runs it ----

  private static Chain chain(String selector, Map<String, Object> params) {
    return new ChainCompiler(REGISTRY, 20).compile(new SamplingConfig()
        .pipeline(List.of(new StageSpec(selector, params))));
  }

  /** A Zipf-like row with some noise, V = 400. */
  private static float[] row(Random random) {
    float[] l = new float[400];
    for (int i = 0; i < l.length; i++) {
      l[i] = (float) (-1.1 * Math.log(i + 1) + 0.3 * random.nextGaussian());
    }
    return l;
  }

  @Test
  void registeredThroughServiceLoaderWithSchemas() {
    assertThat(REGISTRY.lookup("mirostat", "x").params()).extracting(p -> p.name())
        .containsExactly("tau", "eta", "m");
    assertThat(REGISTRY.lookup("mirostat_v2", "x").params()).extracting(p -> p.name())
        .containsExactly("tau", "eta");
    assertThat(REGISTRY.lookup("mirostat_v2", "x").plugin()).isEqualTo("mirostat");
  }

  @Test
  void outOfRangeParametersAreRefusedBeforeAnythingRuns() {
    try {
      chain("mirostat_v2", Map.of("tau", -1.0));
      throw new AssertionError("expected INVALID_PARAMS");
    } catch (TallyException e) {
      assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
      assertThat(e.getMessage()).contains("mirostat_v2.tau");
    }
  }

  @Test
  void inASessionMuLearnsUntilTheObservedSurpriseMatchesTau() {
    // The point of Mirostat: the average surprise of the drawn tokens converges to tau.
    for (String name : List.of("mirostat", "mirostat_v2")) {
      double tau = 3.0;
      Chain chain = chain(name, Map.of("tau", tau, "eta", 0.1)).forSequence();
      TokenLog history = TokenLog.of(new int[] {1, 2, 3}, new int[0]);
      RowSampler sampler = new RowSampler();
      Random random = new Random(42);
      double surprise = 0;
      int counted = 0;
      for (int step = 0; step < 600; step++) {
        float[] logits = row(random);
        RowResult r = sampler.sample(LogitsTensor.ofFloats(1, logits.length, logits), 0, chain,
            history, 77);
        assertThat(r.failed()).as(String.valueOf(r.error())).isFalse();
        if (step >= 300) {
          surprise += -r.processedLogprob() / Math.log(2);
          counted++;
        }
        history.append(r.tokenId());
      }
      assertThat(surprise / counted).as(name).isCloseTo(tau, within(0.35));
    }
  }

  @Test
  void sampleRebuildsTheStateEachCallSoTheSameInputGivesTheSameToken() {
    Chain chain = chain("mirostat_v2", Map.of());
    float[] logits = row(new Random(1));
    int first = new RowSampler().sample(LogitsTensor.ofFloats(1, 400, logits), 0, chain,
        TokenLog.of(new int[] {5}, new int[] {6, 7}), 9).tokenId();
    for (int i = 0; i < 5; i++) {
      assertThat(new RowSampler().sample(LogitsTensor.ofFloats(1, 400, logits), 0, chain,
          TokenLog.of(new int[] {5}, new int[] {6, 7}), 9).tokenId()).isEqualTo(first);
    }
  }
}
