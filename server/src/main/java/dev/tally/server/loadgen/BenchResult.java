package dev.tally.server.loadgen;

import java.util.List;
import java.util.Locale;
import org.HdrHistogram.Histogram;

/** The outcome of a load run: step latencies (µs), a per-second timeline, throughput. */
final class BenchResult {
  /** One second of the run. */
  record Interval(double atSeconds, long steps, double p50Millis, double p99Millis) {}

  private final Histogram latency;
  private final List<Interval> timeline;
  private final double seconds;
  private final LoadPlan plan;
  private final long errors;

  BenchResult(Histogram latency, List<Interval> timeline, double seconds, LoadPlan plan,
      long errors) {
    this.latency = latency;
    this.timeline = List.copyOf(timeline);
    this.seconds = seconds;
    this.plan = plan;
    this.errors = errors;
  }

  long errors() {
    return errors;
  }

  List<Interval> timeline() {
    return timeline;
  }

  double millisAt(double percentile) {
    return latency.getValueAtPercentile(percentile) / 1e3;
  }

  double stepsPerSecond() {
    return latency.getTotalCount() / seconds;
  }

  double gigabytesPerSecond() {
    return stepsPerSecond() * plan.stepBytes() / 1e9;
  }

  String summary() {
    return String.format(Locale.ROOT,
        "steps %d in %.1f s: %.1f steps/s, %.0f rows/s, %.2f GB/s of logits%n"
            + "step latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (errors %d)",
        latency.getTotalCount(), seconds, stepsPerSecond(), stepsPerSecond() * plan.batch(),
        gigabytesPerSecond(), millisAt(50), millisAt(90), millisAt(99),
        latency.getMaxValue() / 1e3, errors);
  }

  String toJson(String target, LoadPlan plan) {
    StringBuilder t = new StringBuilder();
    for (Interval i : timeline) {
      t.append(t.length() == 0 ? "" : ",").append(String.format(Locale.ROOT,
          "{\"at_s\":%.2f,\"steps\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f}", i.atSeconds(), i.steps(),
          i.p50Millis(), i.p99Millis()));
    }
    return String.format(Locale.ROOT, "{\"target\":\"%s\",\"sessions\":%d,\"batch\":%d,"
            + "\"vocab\":%d,\"dtype\":\"%s\",\"step_bytes\":%d,\"seconds\":%.2f,\"steps\":%d,"
            + "\"steps_per_s\":%.2f,\"gb_per_s\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
            + "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%d,\"timeline\":[%s]}%n",
        target.replace("\"", "\\\""), plan.sessions(), plan.batch(), plan.vocab(), plan.dtype(),
        plan.stepBytes(), seconds, latency.getTotalCount(), stepsPerSecond(), gigabytesPerSecond(),
        millisAt(50), millisAt(90), millisAt(99), latency.getMaxValue() / 1e3, errors, t);
  }
}
