package dev.tally.server.metrics;

import dev.tally.core.engine.StageTimer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * The server's meters (documented in {@code docs/operations.md}). Prometheus names: {@code
 * tally_steps_total}, {@code tally_rows_total}, {@code tally_logits_received_bytes_total}, {@code
 * tally_step_duration_seconds{phase=decode|queue|sample|total}}, {@code
 * tally_processor_seconds{processor}}, {@code tally_sessions_active}, {@code
 * tally_sequences_active}, {@code tally_errors_total{status,code}}, plus {@code jvm_*} and {@code
 * netty_*} memory.
 */
public final class TallyMetrics {
  private final MeterRegistry registry;
  private final PrometheusMeterRegistry prometheus;
  private final AtomicInteger activeSequences = new AtomicInteger();
  private final AtomicInteger activeSessions = new AtomicInteger();
  private final ProcessorTimers processors;

  private TallyMetrics(MeterRegistry registry, PrometheusMeterRegistry prometheus) {
    this.registry = registry;
    this.prometheus = prometheus;
    this.processors = new ProcessorTimers(registry);
  }

  /** Meters kept for a Prometheus scrape, with JVM and Netty memory. */
  public static TallyMetrics prometheus() {
    PrometheusMeterRegistry p = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(p);
    new JvmGcMetrics().bindTo(p);
    new JvmThreadMetrics().bindTo(p);
    new NettyAllocatorMetrics(PooledByteBufAllocator.DEFAULT).bindTo(p);
    Gauge.builder("netty.direct.memory.used", PlatformDependent::usedDirectMemory)
        .baseUnit("bytes").description("Direct memory Netty has allocated").register(p);
    TallyMetrics m = new TallyMetrics(p, p);
    m.gauges();
    return m;
  }

  /** Meters that record nothing (tests that build pieces by hand). */
  public static TallyMetrics noop() {
    return new TallyMetrics(new CompositeMeterRegistry(), null);
  }

  private void gauges() {
    Gauge.builder("tally.sessions.active", activeSessions, AtomicInteger::get)
        .description("Session streams open").register(registry);
    Gauge.builder("tally.sequences.active", activeSequences, AtomicInteger::get)
        .description("Sequences held by open sessions").register(registry);
  }

  /** The text a Prometheus scrape gets, or null when this registry keeps nothing. */
  public String scrape() {
    return prometheus == null ? null : prometheus.scrape();
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** Times each chain stage: give it to the sampler pool's {@code RowSampler}s. */
  public StageTimer stageTimer() {
    return processors;
  }

  /**
   * One answered step: its rows, the logits bytes received, and how long each phase took: decode
   * (parse, validate, apply the session's changes), queue (handed to the pool until its first row
   * starts on a sampler thread) and sample (from then until the step's rows are done).
   */
  public void step(String rpc, int rows, long logitsBytes, long decodeNanos, long queueNanos,
      long sampleNanos) {
    Counter.builder("tally.steps").tag("rpc", rpc).description("Steps answered")
        .register(registry).increment();
    Counter.builder("tally.rows").tag("rpc", rpc).description("Rows sampled")
        .register(registry).increment(rows);
    Counter.builder("tally.logits.received").baseUnit("bytes").tag("rpc", rpc)
        .description("Logits bytes received").register(registry).increment(logitsBytes);
    timer("decode").record(decodeNanos, TimeUnit.NANOSECONDS);
    timer("queue").record(queueNanos, TimeUnit.NANOSECONDS);
    timer("sample").record(sampleNanos, TimeUnit.NANOSECONDS);
    timer("total").record(decodeNanos + queueNanos + sampleNanos, TimeUnit.NANOSECONDS);
  }

  private Timer timer(String phase) {
    return Timer.builder("tally.step.duration").tag("phase", phase)
        .description("Step latency by phase: decode, queue, sample, total")
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1).dividedBy(10))
        .maximumExpectedValue(Duration.ofSeconds(30))
        .register(registry);
  }

  /** An error answered: the gRPC status name and the Tally code (ErrorInfo.reason). */
  public void error(String status, String tallyCode) {
    Counter.builder("tally.errors").tag("status", status).tag("code", tallyCode)
        .description("Errors answered, by gRPC status and Tally code")
        .register(registry).increment();
  }

  /** A session opened; the returned handle tracks it until it is closed. */
  public SessionStats session(String peer, IntSupplier sequences) {
    activeSessions.incrementAndGet();
    return new SessionStats(this, peer, sequences);
  }

  void sessionClosed() {
    activeSessions.decrementAndGet();
  }

  void sequencesChanged(int delta) {
    activeSequences.addAndGet(delta);
  }
}
