package dev.tally.server.exec;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.StageTimer;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.kernel.Kernels;
import dev.tally.core.tensor.LogitsTensor;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads that sample: a fixed pool sized to the cores, never a Netty event loop. A step's rows
 * are spread over the pool: up to one worker per thread, each taking the next unsampled row, so a
 * slow row does not hold back a fixed share of the others.
 *
 * <p><b>Step deadline.</b> Plugin code may not finish. When a step's rows are not all done within
 * the deadline, the step is answered anyway: every row still running (or not yet started) fails
 * with {@code DEADLINE_EXCEEDED}, naming the plugin whose code the thread was in, and the threads
 * stuck in those rows are interrupted. A plugin that honours the interrupt gives its thread back at
 * once; one that ignores it keeps the thread until it returns, and meanwhile the pool starts a
 * replacement (up to {@code 4 × threads} replacements at a time), so the server keeps its full
 * sampling capacity. A result that arrives after its row was answered is dropped.
 */
public final class SamplerPool implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SamplerPool.class);

  private static final int NEW = 0;
  private static final int RUNNING = 1;
  private static final int DONE = 2;
  private static final int EXPIRED = 3;

  private final ThreadPoolExecutor executor;
  private final ScheduledThreadPoolExecutor timer;
  private final int threads;
  private final long deadlineNanos;
  private final Duration deadline;
  private final int maxReplacements;
  private final AutoCloseable afterClose;
  private final AtomicInteger lost = new AtomicInteger();
  // One RowSampler per pool thread: its buffers are reused row after row.
  private final ThreadLocal<RowSampler> samplers;

  /** A pool with the default step deadline that closes nothing else. */
  public SamplerPool(int threads) {
    this(threads, Duration.ofSeconds(10), () -> { });
  }

  /**
   * @param threads sampler threads
   * @param stepDeadline how long a step's rows may run
   * @param afterClose closed once the threads have stopped (the plugin class loaders)
   */
  public SamplerPool(int threads, Duration stepDeadline, AutoCloseable afterClose) {
    this(threads, stepDeadline, afterClose, StageTimer.NONE);
  }

  /**
   * @param threads sampler threads
   * @param stepDeadline how long a step's rows may run
   * @param afterClose closed once the threads have stopped (the plugin class loaders)
   * @param stageTimer times each chain stage of every row (the per-processor metric)
   */
  public SamplerPool(int threads, Duration stepDeadline, AutoCloseable afterClose,
      StageTimer stageTimer) {
    if (threads < 1 || stepDeadline.isNegative() || stepDeadline.isZero()) {
      throw new IllegalArgumentException("threads and deadline must be positive");
    }
    this.threads = threads;
    this.deadline = stepDeadline;
    this.deadlineNanos = stepDeadline.toNanos();
    this.maxReplacements = 4 * threads;
    this.afterClose = afterClose;
    Kernels kernels = Kernels.best();
    this.samplers = ThreadLocal.withInitial(() -> new RowSampler(kernels, stageTimer));
    AtomicInteger n = new AtomicInteger();
    this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "tally-sampler-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    this.timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "tally-step-deadline");
      t.setDaemon(true);
      return t;
    });
    timer.setRemoveOnCancelPolicy(true); // one timer per step: do not keep cancelled ones around
  }

  public int threads() {
    return threads;
  }

  /** The step deadline. */
  public Duration stepDeadline() {
    return deadline;
  }

  /** Threads currently stuck in rows whose step was answered without them. */
  public int lostThreads() {
    return lost.get();
  }

  /**
   * Samples every row of {@code logits}; row {@code i} with {@code jobs[i]}. The future completes
   * once all rows are done or the step deadline has passed; row failures (deadline included) are
   * inside the results, never an exceptional completion. It also tells when the step's first row
   * started on a sampler thread, which splits the step's time into queue and sample.
   */
  public StepFuture sample(LogitsTensor logits, RowJob[] jobs) {
    Step step = new Step(logits, jobs);
    if (jobs.length == 0) {
      step.done.complete(step.results);
      return step.done;
    }
    try {
      step.timeout = timer.schedule(step::expire, deadlineNanos, TimeUnit.NANOSECONDS);
      int workers = Math.min(jobs.length, threads);
      for (int i = 0; i < workers; i++) {
        executor.execute(step);
      }
    } catch (RuntimeException e) {
      step.done.completeExceptionally(e); // rejected: the pool is shut down
    }
    step.done.whenComplete((r, e) -> {
      ScheduledFuture<?> t = step.timeout;
      if (t != null) {
        t.cancel(false);
      }
    });
    return step.done;
  }

  /** A step's results, and when its first row started on a sampler thread. */
  public static final class StepFuture extends CompletableFuture<RowResult[]> {
    private static final long NOT_STARTED = Long.MIN_VALUE;
    private final AtomicLong started = new AtomicLong(NOT_STARTED);

    /** A step that failed before it reached the pool. */
    public static StepFuture failed(Throwable e) {
      StepFuture f = new StepFuture();
      f.completeExceptionally(e);
      return f;
    }

    /**
     * The {@link System#nanoTime()} at which the first row started, or {@code fallback} when no
     * row started (the step expired in the queue, or failed before it was queued).
     */
    public long startedOr(long fallback) {
      long t = started.get();
      return t == NOT_STARTED ? fallback : t;
    }

    void markStarted() {
      if (started.get() == NOT_STARTED) { // a clock read for the first row only
        started.compareAndSet(NOT_STARTED, System.nanoTime());
      }
    }
  }

  /** One step: its rows, their states, and the workers that take rows in turn. */
  private final class Step implements Runnable {
    final LogitsTensor logits;
    final RowJob[] jobs;
    final RowResult[] results;
    final AtomicIntegerArray states;
    final Thread[] runners;
    final AtomicInteger next = new AtomicInteger();
    final AtomicInteger remaining;
    final StepFuture done = new StepFuture();
    volatile ScheduledFuture<?> timeout;

    Step(LogitsTensor logits, RowJob[] jobs) {
      this.logits = logits;
      this.jobs = jobs;
      this.results = new RowResult[jobs.length];
      this.states = new AtomicIntegerArray(jobs.length);
      this.runners = new Thread[jobs.length];
      this.remaining = new AtomicInteger(jobs.length);
    }

    /** A worker: takes rows until none is left or the step has expired. */
    @Override
    public void run() {
      RowSampler sampler = samplers.get();
      for (int row; (row = next.getAndIncrement()) < jobs.length; ) {
        RowJob job = jobs[row];
        if (job.isContinuation()) {
          continue; // the first row of its draft block samples it
        }
        int[] draft = job.draft();
        int rows = draft == null ? 1 : draft.length + 1;
        // A draft block's rows run in order on this thread, each seeing the drafts before it, as
        // decoding without speculation would; it stops at the first row that ends the block.
        for (int j = 0; j < rows; j++) {
          int at = row + j;
          runners[at] = Thread.currentThread(); // published by the CAS below
          if (!states.compareAndSet(at, NEW, RUNNING)) {
            return; // expired before it started: the step is answered
          }
          done.markStarted();
          RowResult result;
          try {
            result = draft == null
                ? sampler.sample(logits, at, job.chain(), job.history(), job.seed(), job.target())
                : sampler.verify(logits, at, job.chain(), job.history(), job.seed(),
                    j < draft.length ? draft[j] : RowSampler.BONUS);
          } catch (RuntimeException | Error e) {
            if (states.compareAndSet(at, RUNNING, DONE)) {
              done.completeExceptionally(e); // a bug in Tally itself, not a bad row
            } else {
              abandoned();
            }
            return;
          }
          if (!states.compareAndSet(at, RUNNING, DONE)) {
            abandoned(); // answered with DEADLINE_EXCEEDED while we ran; drop the late result
            return;
          }
          boolean goesOn = draft != null && j < draft.length && result.continuesDraft();
          if (goesOn) {
            job.history().append(draft[j]); // the block's own copy of the history
          } else {
            for (int d = at + 1; d < row + rows; d++) { // after the block's end: nothing to do
              if (states.compareAndSet(d, NEW, DONE)) {
                finished(d, RowResult.discarded(job.seed()));
              }
            }
          }
          finished(at, result);
          if (!goesOn) {
            break;
          }
        }
      }
    }

    private void finished(int row, RowResult result) {
      results[row] = result;
      if (remaining.decrementAndGet() == 0) {
        done.complete(results);
      }
    }

    /** This thread's row was given up on; the thread is back: clear the interrupt, shrink. */
    private void abandoned() {
      synchronized (this) {
        Thread.interrupted(); // expire() interrupts inside this lock, so none can come later
      }
      threadReturned();
    }

    /** The deadline passed: answer every unfinished row, interrupt the threads still in one. */
    synchronized void expire() {
      for (int row = 0; row < jobs.length; row++) {
        while (true) {
          int s = states.get(row);
          if (s == DONE || s == EXPIRED) {
            break;
          }
          if (states.compareAndSet(row, s, EXPIRED)) {
            Thread runner = s == RUNNING ? runners[row] : null;
            results[row] = RowResult.failure(deadlineExceeded(row, runner), jobs[row].seed());
            if (runner != null) {
              runner.interrupt();
              threadLost(runner);
            }
            if (remaining.decrementAndGet() == 0) {
              done.complete(results);
            }
            break;
          }
        }
      }
    }
  }

  private TallyException deadlineExceeded(int row, Thread runner) {
    String where = "";
    if (runner != null) {
      ClassLoader loader = runner.getContextClassLoader();
      String plugin = loader == null ? null : pluginOf(loader);
      where = plugin != null ? " in plugin " + plugin : "";
    }
    return new TallyException(ErrorCode.DEADLINE_EXCEEDED, null, "row " + row + ": "
        + (runner == null ? "not started" : "still running" + where) + " when the step deadline of "
        + format(deadline) + " passed" + (runner == null ? "" : "; its thread was interrupted"));
  }

  /** The plugin a context class loader belongs to, by its name ({@code plugin-NAME}), or null. */
  private static String pluginOf(ClassLoader loader) {
    String name = loader.getName();
    return name != null && name.startsWith("plugin-") ? "'" + name.substring(7) + "'" : null;
  }

  private static String format(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }

  private void threadLost(Thread runner) {
    int n = lost.incrementAndGet();
    if (n <= maxReplacements) {
      resize(threads + n);
      log.warn("{} is stuck in a row past the step deadline of {}; interrupted it and started a"
          + " replacement ({} stuck)", runner.getName(), format(deadline), n);
    } else {
      log.error("{} is stuck in a row past the step deadline of {}; {} threads are stuck, more than"
          + " the {} replacements allowed: sampling capacity is reduced until plugins return",
          runner.getName(), format(deadline), n, maxReplacements);
    }
  }

  private void threadReturned() {
    int n = lost.decrementAndGet();
    resize(threads + Math.min(n, maxReplacements));
  }

  private synchronized void resize(int size) {
    if (executor.isShutdown()) {
      return;
    }
    if (size > executor.getMaximumPoolSize()) {
      executor.setMaximumPoolSize(size);
      executor.setCorePoolSize(size); // starts a thread for queued work at once
    } else if (size < executor.getCorePoolSize()) {
      executor.setCorePoolSize(size); // the extra thread ends when it next goes idle
      executor.setMaximumPoolSize(size);
    }
  }

  /**
   * Stops accepting work, waits briefly for running rows (then interrupts them), and closes what
   * the pool was given to close after its threads: the plugin class loaders.
   */
  @Override
  public void close() {
    timer.shutdownNow();
    synchronized (this) {
      executor.shutdown();
    }
    try {
      if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
        executor.shutdownNow();
      }
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
    }
    try {
      afterClose.close();
    } catch (Exception e) {
      log.warn("closing after the sampler pool failed: {}", e.toString());
    }
  }
}
