package dev.tally.core.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.Stage;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.processor.BuiltinPlugin;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.kernel.Kernels;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.TallyPlugin;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The engine's stage timing hook: one begin/end pair around every processor and the selector. */
final class StageTimerTest {
  /** Records "begin" marks and, for each end, the stage's name and the mark it was given. */
  private static final class Recorder implements StageTimer {
    final List<String> events = new ArrayList<>();
    long next;

    @Override
    public long begin() {
      events.add("begin " + next);
      return next++;
    }

    @Override
    public void end(Stage stage, long begin) {
      events.add("end " + stage.name() + " " + begin);
    }
  }

  private static final class Boom implements TallyPlugin {
    @Override
    public String name() {
      return "boomplugin";
    }

    @Override
    public List<ProcessorFactory> processorFactories() {
      return List.of(new ProcessorFactory() {
        @Override
        public String name() {
          return "boom";
        }

        @Override
        public String description() {
          return "Throws.";
        }

        @Override
        public List<ParamSpec> params() {
          return List.of();
        }

        @Override
        public LogitsProcessor create(Params params) {
          return (c, ctx) -> {
            throw new IllegalStateException("kaboom");
          };
        }
      });
    }
  }

  private static final ChainCompiler COMPILER = new ChainCompiler(ProcessorRegistry.builder()
      .install(new BuiltinPlugin()).install(new Boom()).build(), 20);

  private static Chain chain(StageSpec... pipeline) {
    return COMPILER.compile(new SamplingConfig().pipeline(List.of(pipeline)));
  }

  private static final LogitsTensor ROW = LogitsTensor.ofFloats(1, 4, 0f, 3f, 1f, 2f);

  @Test
  void everyProcessorAndTheSelectorIsTimedInChainOrder() {
    Recorder timer = new Recorder();
    RowSampler sampler = new RowSampler(Kernels.best(), timer);
    RowResult r = sampler.sample(ROW, 0, chain(new StageSpec("top_k", Map.of("k", 2.0)),
        new StageSpec("temperature", Map.of("temperature", 0.5)), StageSpec.of("draw")),
        TokenLog.empty(), 7);
    assertThat(r.failed()).isFalse();
    assertThat(timer.events).containsExactly("begin 0", "end top_k 0", "begin 1",
        "end temperature 1", "begin 2", "end draw 2");
  }

  @Test
  void aStageThatThrowsIsTimedToo() {
    Recorder timer = new Recorder();
    RowResult r = new RowSampler(Kernels.best(), timer).sample(ROW, 0,
        chain(StageSpec.of("boom"), StageSpec.of("greedy")), TokenLog.empty(), 7);
    assertThat(r.error().code()).isEqualTo(ErrorCode.PROCESSOR_FAILED);
    assertThat(timer.events).containsExactly("begin 0", "end boom 0");
  }

  @Test
  void theDefaultTimerIsNone() {
    // NONE never reads the clock: its mark is always 0.
    assertThat(StageTimer.NONE.begin()).isZero();
    RowResult r = new RowSampler().sample(ROW, 0, chain(StageSpec.of("greedy")),
        TokenLog.empty(), 7);
    assertThat(r.tokenId()).isEqualTo(1);
  }
}
