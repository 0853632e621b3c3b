package dev.tally.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.Stage;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.registry.ProcessorRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code tally_processor_seconds}: one series per stage name, bounded, in seconds. */
final class ProcessorTimersTest {
  /** Real stages, as the engine passes them: top_k, temperature, min_p, then the draw. */
  private static List<Stage> stages() {
    ChainCompiler compiler = new ChainCompiler(
        ProcessorRegistry.fromServiceLoader(ProcessorTimersTest.class.getClassLoader()), 20);
    Chain chain = compiler.compile(new SamplingConfig().pipeline(List.of(
        new StageSpec("top_k", Map.of("k", 2.0)),
        new StageSpec("temperature", Map.of("temperature", 0.5)),
        new StageSpec("min_p", Map.of("min_p", 0.1)), StageSpec.of("draw"))));
    List<Stage> out = new ArrayList<>(chain.processors());
    out.add(chain.selector());
    return out;
  }

  private static List<String> series(PrometheusMeterRegistry registry) {
    return registry.scrape().lines().filter(l -> l.startsWith("tally_processor_seconds_count"))
        .sorted().toList();
  }

  @Test
  void eachStageNameIsASeriesUntilTheCapThenOther() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    ProcessorTimers timers = new ProcessorTimers(registry, 2);
    List<Stage> stages = stages();
    for (int row = 0; row < 3; row++) {
      for (Stage stage : stages) {
        timers.end(stage, timers.begin());
      }
    }
    assertThat(series(registry)).containsExactly(
        "tally_processor_seconds_count{processor=\"other\"} 6",
        "tally_processor_seconds_count{processor=\"temperature\"} 3",
        "tally_processor_seconds_count{processor=\"top_k\"} 3");
    assertThat(registry.scrape()).contains("# TYPE tally_processor_seconds summary",
        "tally_processor_seconds_sum{processor=\"top_k\"} ");
  }

  @Test
  void theSumIsTheElapsedTimeInSeconds() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    ProcessorTimers timers = new ProcessorTimers(registry);
    Stage topK = stages().get(0);
    // A mark 1.5 s in the past: end() adds the time since the mark (at least 1.5 s).
    timers.end(topK, System.nanoTime() - 1_500_000_000L);
    String sum = registry.scrape().lines()
        .filter(l -> l.startsWith("tally_processor_seconds_sum{processor=\"top_k\"}"))
        .findFirst().orElseThrow();
    assertThat(Double.parseDouble(sum.substring(sum.lastIndexOf(' ') + 1)))
        .isGreaterThanOrEqualTo(1.5);
  }
}
