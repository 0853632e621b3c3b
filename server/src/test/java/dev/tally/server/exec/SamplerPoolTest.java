package dev.tally.server.exec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.processor.BuiltinPlugin;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.TallyPlugin;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The step deadline: stuck rows fail, the step is answered, lost threads are replaced. */
final class SamplerPoolTest {
  /** Released by the tests so stuck threads end. */
  private static final AtomicBoolean RELEASE = new AtomicBoolean();

  /** mode "sleep": honours interrupts; "spin": ignores them until released; else: nothing. */
  private static final ProcessorFactory STALL = new ProcessorFactory() {
    @Override
    public String name() {
      return "stall";
    }

    @Override
    public String description() {
      return "Test.";
    }

    @Override
    public List<ParamSpec> params() {
      return List.of(ParamSpec.string("mode", "How to stall.").withDefault("none"));
    }

    @Override
    public LogitsProcessor create(Params params) {
      String mode = params.getString("mode");
      return (c, ctx) -> {
        if (mode.equals("sleep")) {
          try {
            Thread.sleep(60_000);
          } catch (InterruptedException e) {
            throw new IllegalStateException("interrupted");
          }
        } else if (mode.equals("spin")) {
          while (!RELEASE.get()) {
            Thread.onSpinWait(); // ignores interrupts: the thread is lost until released
          }
        }
      };
    }
  };

  private static final ChainCompiler COMPILER = new ChainCompiler(ProcessorRegistry.builder()
      .install(new BuiltinPlugin())
      .install(new TallyPlugin() {
        @Override
        public String name() {
          return "stallers";
        }

        @Override
        public List<ProcessorFactory> processorFactories() {
          return List.of(STALL);
        }
      }).build(), 20);

  private SamplerPool pool;

  @AfterEach
  void release() {
    RELEASE.set(true);
    if (pool != null) {
      pool.close();
    }
    RELEASE.set(false);
  }

  private static RowJob job(String mode) {
    Chain chain = COMPILER.compile(new SamplingConfig().pipeline(List.of(
        new StageSpec("stall", Map.of("mode", mode)), StageSpec.of("greedy"))));
    return new RowJob(chain, TokenLog.empty(), 1);
  }

  private static LogitsTensor logits(int rows) {
    float[] values = new float[rows * 4];
    for (int r = 0; r < rows; r++) {
      values[r * 4 + 2] = 1f;
    }
    return LogitsTensor.ofFloats(rows, 4, values);
  }

  @Test
  void aStuckRowFailsWithDeadlineExceededAndTheOthersAreAnswered() throws Exception {
    pool = new SamplerPool(2, Duration.ofMillis(300), () -> { });
    long start = System.nanoTime();
    RowResult[] results = pool.sample(logits(3), new RowJob[] {job("none"), job("sleep"),
        job("none")}).get(10, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertThat(millis).isBetween(250L, 5_000L);
    assertThat(results[0].tokenId()).isEqualTo(2);
    assertThat(results[2].tokenId()).isEqualTo(2);
    assertThat(results[1].failed()).isTrue();
    assertThat(results[1].error().code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
    assertThat(results[1].error().getMessage()).contains("row 1").contains("300ms")
        .contains("interrupted");
    // the interrupted thread comes back: no thread stays lost
    for (int i = 0; i < 100 && pool.lostThreads() > 0; i++) {
      Thread.sleep(20);
    }
    assertThat(pool.lostThreads()).isZero();
    RowResult[] next = pool.sample(logits(2), new RowJob[] {job("none"), job("none")})
        .get(10, TimeUnit.SECONDS);
    assertThat(next).allSatisfy(r -> assertThat(r.tokenId()).isEqualTo(2));
  }

  @Test
  void threadsLostToPluginsThatIgnoreInterruptsAreReplaced() throws Exception {
    pool = new SamplerPool(2, Duration.ofMillis(200), () -> { });
    int stuck = 0;
    for (int step = 0; step < 3; step++) {
      // both threads stuck in this step: without replacements the next step would never run
      RowResult[] results = pool.sample(logits(2), new RowJob[] {job("spin"), job("spin")})
          .get(10, TimeUnit.SECONDS);
      assertThat(results).allSatisfy(r ->
          assertThat(r.error().code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED));
      // On a loaded machine a row may miss the deadline before it starts: then no thread is lost
      for (RowResult r : results) {
        stuck += r.error().getMessage().contains("not started") ? 0 : 1;
      }
    }
    assertThat(stuck).isPositive();
    assertThat(pool.lostThreads()).isEqualTo(stuck);
    RowResult[] healthy = pool.sample(logits(4), new RowJob[] {job("none"), job("none"),
        job("none"), job("none")}).get(10, TimeUnit.SECONDS);
    assertThat(healthy).allSatisfy(r -> assertThat(r.tokenId()).isEqualTo(2));
    RELEASE.set(true);
    for (int i = 0; i < 200 && pool.lostThreads() > 0; i++) {
      Thread.sleep(20);
    }
    assertThat(pool.lostThreads()).isZero();
  }

  @Test
  void rowsNotStartedByTheDeadlineFailToo() throws Exception {
    pool = new SamplerPool(1, Duration.ofMillis(200), () -> { });
    RowResult[] results = pool.sample(logits(3), new RowJob[] {job("sleep"), job("none"),
        job("none")}).get(10, TimeUnit.SECONDS);
    assertThat(results).allSatisfy(r ->
        assertThat(r.error().code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED));
    assertThat(results[1].error().getMessage()).contains("not started");
  }

  @Test
  void closeClosesWhatItWasGivenAfterTheThreads() throws Exception {
    AtomicBoolean closed = new AtomicBoolean();
    pool = new SamplerPool(1, Duration.ofSeconds(5), () -> closed.set(true));
    pool.sample(logits(1), new RowJob[] {job("none")}).get(10, TimeUnit.SECONDS);
    pool.close();
    assertThat(closed).isTrue();
    pool = null;
  }
}
