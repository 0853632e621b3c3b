package dev.tally.core.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.processor.BuiltinPlugin;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.session.AppendedTokens;
import dev.tally.core.session.SequenceSpec;
import dev.tally.core.session.SessionState;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SequenceState;
import dev.tally.spi.StatefulProcessor;
import dev.tally.spi.TallyPlugin;
import dev.tally.spi.TokenHistory;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Per-sequence state: how the engine builds, feeds, keeps, checkpoints and frees the {@link
 * SequenceState} of stateful stages, in the stateless ({@code Sample}) and session paths.
 */
final class ChainStateTest {
  /** Remembers every token it was fed; boosts token (number of tokens fed) mod vocab. */
  static final class Log implements SequenceState {
    final List<Integer> tokens = new ArrayList<>();
    final int built;
    int resets;

    Log(int built) {
      this.built = built;
    }

    @Override
    public void accept(int tokenId) {
      if (tokenId == 13) {
        throw new IllegalStateException("13 is unlucky");
      }
      tokens.add(tokenId);
    }

    @Override
    public void reset() {
      tokens.clear();
      resets++;
    }

    @Override
    public Log copy() {
      Log l = new Log(built);
      l.tokens.addAll(tokens);
      return l;
    }
  }

  static final AtomicInteger BUILT = new AtomicInteger();
  static final List<WeakReference<Log>> STATES = new ArrayList<>();

  /** The state's size picks the token: step k chooses (history length at build + k) mod V. */
  static final class Counting implements StatefulProcessor<Log> {
    @Override
    public Log newState(TokenHistory history) {
      BUILT.incrementAndGet();
      Log log = new Log(history.length());
      synchronized (STATES) {
        STATES.add(new WeakReference<>(log));
      }
      return log;
    }

    @Override
    public void apply(Candidates c, SamplingContext context, Log state) {
      int target = (state.built + state.tokens.size()) % c.vocabSize();
      c.setLogit(target, c.logit(target) + 100f);
    }
  }

  private static final ProcessorFactory COUNTING = new ProcessorFactory() {
    @Override
    public String name() {
      return "counting";
    }

    @Override
    public String description() {
      return "Test.";
    }

    @Override
    public List<ParamSpec> params() {
      return List.of();
    }

    @Override
    public LogitsProcessor create(Params params) {
      return new Counting();
    }
  };

  private static final ProcessorRegistry REGISTRY = ProcessorRegistry.builder()
      .install(new BuiltinPlugin())
      .install(new TallyPlugin() {
        @Override
        public String name() {
          return "test";
        }

        @Override
        public List<ProcessorFactory> processorFactories() {
          return List.of(COUNTING);
        }
      })
      .build();

  private static final ChainCompiler COMPILER = new ChainCompiler(REGISTRY, 20);

  private static SamplingConfig config(boolean explain) {
    return new SamplingConfig().explain(explain)
        .pipeline(List.of(StageSpec.of("counting"), StageSpec.of("greedy")));
  }

  private static RowResult sample(Chain chain, TokenLog history, int vocab) {
    return new RowSampler().sample(LogitsTensor.ofFloats(1, vocab, new float[vocab]), 0, chain,
        history, 1);
  }

  @Test
  void statelessChainsRebuildTheStateFromTheHistoryOnEveryRow() {
    Chain chain = COMPILER.compile(config(false));
    assertThat(chain.isStateful()).isTrue();
    int before = BUILT.get();
    TokenLog history = TokenLog.of(new int[] {1, 2}, new int[] {3});
    assertThat(sample(chain, history, 10).tokenId()).isEqualTo(3); // built at length 3
    assertThat(sample(chain, history, 10).tokenId()).isEqualTo(3);
    assertThat(BUILT.get() - before).isEqualTo(2);
  }

  @Test
  void aSequenceBuildsItsStateOnceAndFeedsItEveryNewTokenInOrder() {
    Chain chain = COMPILER.compile(config(true)).forSequence(); // explain runs the chain twice
    int before = BUILT.get();
    TokenLog history = TokenLog.of(new int[] {5}, new int[0]);
    List<Integer> chosen = new ArrayList<>();
    for (int step = 0; step < 4; step++) {
      RowResult r = sample(chain, history, 10);
      assertThat(r.failed()).isFalse();
      chosen.add(r.tokenId());
      history.append(r.tokenId());
      if (step == 1) {
        history.append(7); // the model server appends a token of its own
        history.append(8);
      }
    }
    assertThat(BUILT.get() - before).isEqualTo(1);
    // built at length 1: 1, then 2, then 5 (two appended), then 6
    assertThat(chosen).containsExactly(1, 2, 5, 6);
    Log state = (Log) chain.processors().get(0).slot().peek();
    assertThat(state.tokens).containsExactly(1, 2, 7, 8, 5); // the last choice is fed next step
  }

  @Test
  void aFailingStateFailsTheRowNamingTheStageAndIsRebuiltFromTheHistory() {
    Chain chain = COMPILER.compile(config(false)).forSequence();
    TokenLog history = TokenLog.of(new int[] {0}, new int[0]);
    assertThat(sample(chain, history, 20).tokenId()).isEqualTo(1);
    history.append(13); // accept(13) throws
    int before = BUILT.get();
    RowResult failed = sample(chain, history, 20);
    assertThat(failed.failed()).isTrue();
    assertThat(failed.error().code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);
    assertThat(failed.error().getMessage()).contains("'counting'").contains("plugin test")
        .contains("13 is unlucky");
    RowResult next = sample(chain, history, 20);
    assertThat(next.failed()).isFalse();
    assertThat(next.tokenId()).isEqualTo(2); // rebuilt at length 2
    assertThat(BUILT.get() - before).isEqualTo(1);
  }

  @Test
  void saveRestoreAndResetRollTheStateBack() {
    Chain chain = COMPILER.compile(config(false)).forSequence();
    TokenLog history = TokenLog.of(new int[] {0}, new int[0]);
    history.append(sample(chain, history, 50).tokenId());
    sample(chain, history, 50); // feeds 1
    Chain.SavedState checkpoint = chain.saveState();
    Log state = (Log) chain.processors().get(0).slot().peek();
    assertThat(state.tokens).containsExactly(1);

    history.append(40);
    history.append(41);
    sample(chain, history, 50);
    assertThat(((Log) chain.processors().get(0).slot().peek()).tokens).containsExactly(1, 40, 41);

    chain.restoreState(checkpoint); // e.g. speculative tokens rejected
    Log restored = (Log) chain.processors().get(0).slot().peek();
    assertThat(restored.tokens).containsExactly(1);
    assertThat(restored).isNotSameAs(state);
    assertThat(chain.processors().get(0).slot().seen()).isEqualTo(2);
    chain.restoreState(checkpoint); // reusable
    assertThat(((Log) chain.processors().get(0).slot().peek()).tokens).containsExactly(1);

    chain.resetState(); // back to the state as built, replaying the history since
    Log reset = (Log) chain.processors().get(0).slot().peek();
    assertThat(reset.tokens).isEmpty();
    assertThat(reset.resets).isEqualTo(1);
    sample(chain, history, 50);
    assertThat(reset.tokens).containsExactly(1, 40, 41);
  }

  @Test
  void statelessChainsAreSharedAsTheyAre() {
    Chain plain = COMPILER.compile(new SamplingConfig().topK(3));
    assertThat(plain.isStateful()).isFalse();
    assertThat(plain.forSequence()).isSameAs(plain);
    Chain stateful = COMPILER.compile(config(false));
    Chain one = stateful.forSequence();
    Chain two = stateful.forSequence();
    assertThat(one.processors().get(0).slot()).isNotSameAs(two.processors().get(0).slot());
    assertThat(one.forSequence().processors().get(0).slot())
        .isNotSameAs(one.processors().get(0).slot());
  }

  @Test
  void aSessionKeepsStatePerSequenceAndFreesItWithTheSequence() throws InterruptedException {
    SessionState session = new SessionState(COMPILER, 8, () -> 1L);
    session.apply(List.of(new SequenceSpec(1, config(false), new int[] {4}, new int[0]),
        new SequenceSpec(2, config(false), new int[] {4, 4}, new int[0])), new long[0], List.of(),
        new long[0], 0);
    SessionState.Sequence one = session.get(1);
    SessionState.Sequence two = session.get(2);
    assertThat(sample(one.chain(), one.history(), 10).tokenId()).isEqualTo(1);
    assertThat(sample(two.chain(), two.history(), 10).tokenId()).isEqualTo(2);
    session.apply(List.of(), new long[0], List.of(new AppendedTokens(1, new int[] {9})),
        new long[] {1}, 1);
    assertThat(sample(one.chain(), one.history(), 10).tokenId()).isEqualTo(2);

    Log state = (Log) one.chain().processors().get(0).slot().peek();
    WeakReference<Log> ref = new WeakReference<>(state);
    state = null;
    one.discardState(); // a row past its deadline: fresh slots, rebuilt from the history
    assertThat(sample(one.chain(), one.history(), 10).tokenId()).isEqualTo(2);
    WeakReference<SequenceState> removed =
        new WeakReference<>(two.chain().processors().get(0).slot().peek());
    assertThat(removed.get()).isNotNull();
    session.apply(List.of(), new long[] {1, 2}, List.of(), new long[0], 0);
    one = null;
    two = null;
    for (int i = 0; i < 50 && (ref.get() != null || removed.get() != null); i++) {
      System.gc();
      Thread.sleep(10);
    }
    assertThat(ref.get()).as("the discarded state is freed").isNull();
    assertThat(removed.get()).as("a removed sequence's state is freed").isNull();
  }

  @Test
  void explainModeDoesNotFeedTwice() {
    Chain chain = COMPILER.compile(config(true)).forSequence();
    TokenLog history = TokenLog.of(new int[0], new int[0]);
    for (int i = 0; i < 3; i++) {
      RowResult r = sample(chain, history, 10);
      assertThat(r.stages()).extracting(s -> s.name).containsExactly("counting", "greedy");
      assertThat(r.tokenId()).isEqualTo(i);
      history.append(r.tokenId());
    }
    assertThat(Map.of("fed", ((Log) chain.processors().get(0).slot().peek()).tokens))
        .containsEntry("fed", List.of(0, 1));
  }

  /**
   * A fork copies each stage's state ({@code SequenceState.copy}, no rebuild) at the parent's
   * position; afterwards parent and child advance independently.
   */
  @Test
  void aForkCopiesEveryStageStateAndTheCopiesAreIndependent() {
    SessionState session = new SessionState(COMPILER, 8, 8, () -> 1L);
    session.apply(List.of(new SequenceSpec(1, config(false), new int[] {4}, new int[0])),
        new long[0], List.of(), new long[0], 0);
    SessionState.Sequence parent = session.get(1);
    for (int step = 0; step < 3; step++) {
      parent.history().append(sample(parent.chain(), parent.history(), 10).tokenId());
    }
    sample(parent.chain(), parent.history(), 10); // the parent's state has seen 1, 2, 3
    int built = BUILT.get();
    session.begin(List.of(), List.of(new dev.tally.core.session.ForkSpec(1, 2, null, null,
        new int[] {9})), new long[0], List.of(), new long[0], 0);
    SessionState.Sequence child = session.get(2);
    Log childState = (Log) child.chain().processors().get(0).slot().peek();
    Log parentState = (Log) parent.chain().processors().get(0).slot().peek();
    assertThat(childState).isNotSameAs(parentState);
    assertThat(childState.tokens).containsExactly(1, 2, 3);
    assertThat(child.seed()).isEqualTo(parent.seed());
    assertThat(child.history().length()).isEqualTo(parent.history().length() + 1); // + the 9

    RowResult c = sample(child.chain(), child.history(), 10); // feeds the appended 9
    assertThat(c.tokenId()).isEqualTo(5); // built at length 1, four tokens seen
    assertThat(childState.tokens).containsExactly(1, 2, 3, 9);
    assertThat(parentState.tokens).containsExactly(1, 2, 3);
    RowResult p = sample(parent.chain(), parent.history(), 10);
    assertThat(p.tokenId()).isEqualTo(4);
    assertThat(parentState.tokens).containsExactly(1, 2, 3);
    assertThat(BUILT.get()).as("copied, never rebuilt").isEqualTo(built);
  }
}
