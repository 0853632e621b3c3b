package dev.tally.plugins.example;

import static org.assertj.core.api.Assertions.assertThat;

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
import org.junit.jupiter.api.Test;

/**
 * How to test a plugin, in three layers (docs/plugins.md, "Testing"): the stage alone on {@link
 * Candidates}; the plugin through Tally's real engine (tally-core, test scope), exactly as the
 * server compiles and runs it; and the state across steps of a session.
 */
final class ExamplePluginTest {
  // Layer 1: the stage alone. A SamplingContext is three methods; write the one your test needs.
  private static SamplingContext context(TokenHistory history, double random) {
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
        return random;
      }
    };
  }

  @Test
  void budgetBansTheTokensOnceSpent() {
    TokenBudget budget = new TokenBudget(new int[] {2, 3}, 1);
    TokenLog history = TokenLog.of(new int[] {2}, new int[] {0}); // prompt tokens do not count
    Candidates c = Candidates.of(0f, 0f, 0f, 0f);
    budget.apply(c, context(history, 0.5));
    assertThat(c.count()).isEqualTo(4);

    history.append(3);
    Candidates after = Candidates.of(0f, 0f, 0f, 0f);
    budget.apply(after, context(history, 0.5)); // the stateless path: state from the history
    assertThat(after.logit(2)).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(after.logit(3)).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(after.count()).isEqualTo(2);
  }

  @Test
  void budgetStateAcceptsResetsAndCopies() {
    TokenBudget budget = new TokenBudget(new int[] {7}, 2);
    TokenBudget.Budget state = budget.newState(TokenLog.of(new int[0], new int[] {7, 1}));
    assertThat(state.count()).isEqualTo(1);
    TokenBudget.Budget copy = state.copy();
    state.accept(7);
    state.accept(4);
    assertThat(state.count()).isEqualTo(2);
    assertThat(copy.count()).isEqualTo(1);
    state.reset();
    assertThat(state.count()).isEqualTo(1);
  }

  @Test
  void confidentGreedyTakesTheTopTokenOrDraws() {
    ConfidentGreedy selector = new ConfidentGreedy(0.5);
    Candidates peaked = Candidates.of(0f, 5f, 0f);
    assertThat(selector.select(peaked, context(TokenLog.empty(), 0.99))).isEqualTo(1);
    assertThat(peaked.size()).isEqualTo(1); // drew from one token
    Candidates flat = Candidates.of(0f, 0f, 0f, 0f);
    assertThat(selector.select(flat, context(TokenLog.empty(), 0.6))).isEqualTo(2);
  }

  // Layer 2: through the engine. fromServiceLoader finds the built-ins and, through this module's
  // META-INF/services file, the plugin itself: a typo there fails this test, not a deployment.
  private static final ProcessorRegistry REGISTRY =
      ProcessorRegistry.fromServiceLoader(ExamplePluginTest.class.getClassLoader());

  private static Chain chain(List<StageSpec> pipeline) {
    return new ChainCompiler(REGISTRY, 20).compile(new SamplingConfig().pipeline(pipeline));
  }

  @Test
  void theServerSeesBothStagesWithTheirSchemas() {
    assertThat(REGISTRY.lookup("example_token_budget", "x").plugin()).isEqualTo("example");
    assertThat(REGISTRY.lookup("example_token_budget", "x").params()).extracting(p -> p.name())
        .containsExactly("token_ids", "max_count");
    assertThat(REGISTRY.lookup("example_confident_greedy", "x").kind().name())
        .isEqualTo("SELECTOR");
  }

  @Test
  void parametersAreValidatedBeforeAnythingRuns() {
    TallyException missing = refused(List.of(StageSpec.of("example_token_budget")));
    assertThat(missing.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(missing.getMessage()).contains("example_token_budget.token_ids is required");
    TallyException range = refused(List.of(new StageSpec("example_confident_greedy",
        Map.of("threshold", 1.5))));
    assertThat(range.getMessage()).contains("example_confident_greedy.threshold must be in (0, 1]");
    TallyException empty = refused(List.of(new StageSpec("example_token_budget",
        Map.of("token_ids", List.of()))));
    assertThat(empty.getMessage()).contains("token_ids must name at least one token");
  }

  private static TallyException refused(List<StageSpec> pipeline) {
    try {
      chain(pipeline);
    } catch (TallyException e) {
      return e;
    }
    throw new AssertionError("expected the request to be refused");
  }

  // Layer 3: a session. forSequence() gives the sequence its own state, as the server does.
  @Test
  void inASessionTheBudgetIsSpentOnceAcrossSteps() {
    Chain chain = chain(List.of(
        new StageSpec("example_token_budget", Map.of("token_ids", List.of(1.0))),
        StageSpec.of("greedy"))).forSequence();
    TokenLog history = TokenLog.of(new int[] {0}, new int[0]);
    RowSampler sampler = new RowSampler();
    int[] chosen = new int[4];
    for (int step = 0; step < 4; step++) {
      RowResult r = sampler.sample(LogitsTensor.ofFloats(1, 3, 0f, 2f, 1f), 0, chain, history, 1);
      chosen[step] = r.tokenId();
      history.append(r.tokenId());
    }
    assertThat(chosen).containsExactly(1, 2, 2, 2); // token 1 once, then the next best
  }
}
