package dev.tally.server.metrics;

import dev.tally.core.engine.StageTimer;
import dev.tally.core.pipeline.Stage;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Time spent in each chain stage, as {@code tally_processor_seconds{processor=NAME}} (count and
 * sum): the engine's {@link StageTimer}, called on the sampler threads for every stage of every
 * row.
 *
 * <p>Each stage name gets two {@link LongAdder}s read by a {@link FunctionTimer}: recording is two
 * uncontended adds after one map lookup, with no allocation, no lock and no extra clock read (a
 * Micrometer {@code Timer} would also keep a time-windowed max, which reads the wall clock on
 * every record). Plugins add stage names, so the label is bounded: the first {@value #MAX_NAMES}
 * names get their own series, and every later name is counted under {@value #OTHER}.
 */
final class ProcessorTimers implements StageTimer {
  static final int MAX_NAMES = 64;
  static final String OTHER = "other";

  private final MeterRegistry registry;
  private final int maxNames;
  private final ConcurrentHashMap<String, Times> byName = new ConcurrentHashMap<>();
  private int named; // guarded by this
  private Times other; // guarded by this; created on first overflow

  ProcessorTimers(MeterRegistry registry) {
    this(registry, MAX_NAMES);
  }

  ProcessorTimers(MeterRegistry registry, int maxNames) {
    this.registry = registry;
    this.maxNames = maxNames;
  }

  @Override
  public long begin() {
    return System.nanoTime();
  }

  @Override
  public void end(Stage stage, long begin) {
    long elapsed = System.nanoTime() - begin;
    Times t = byName.get(stage.name());
    if (t == null) {
      t = register(stage.name());
    }
    t.count.increment();
    t.nanos.add(elapsed);
  }

  /** The first time a name is seen: its own series while there is room, else "other". */
  private synchronized Times register(String name) {
    Times t = byName.get(name);
    if (t != null) {
      return t;
    }
    if (named < maxNames) {
      named++;
      t = meter(name);
    } else {
      if (other == null) { // a plugin stage may itself be called "other": share its series
        other = byName.containsKey(OTHER) ? byName.get(OTHER) : meter(OTHER);
      }
      t = other;
    }
    // Names come from the processor registry, a finite set, so mapping each overflow name to
    // "other" keeps the map bounded while sparing them this lock on later rows.
    byName.put(name, t);
    return t;
  }

  private Times meter(String label) {
    Times t = new Times();
    FunctionTimer.builder("tally.processor", t, x -> x.count.sum(), x -> x.nanos.sum(),
            TimeUnit.NANOSECONDS)
        .tag("processor", label)
        .description("Time spent in each chain stage (processors and the selector), per row")
        .register(registry);
    return t;
  }

  private static final class Times {
    final LongAdder count = new LongAdder();
    final LongAdder nanos = new LongAdder();
  }
}
