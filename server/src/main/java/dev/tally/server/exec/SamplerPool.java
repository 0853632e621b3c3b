package dev.tally.server.exec;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.tensor.LogitsTensor;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads that sample: a fixed pool sized to the cores, never a Netty event loop. A step's rows
 * are spread over the pool: up to one worker per thread, each taking the next unsampled row, so a
 * slow row does not hold back a fixed share of the others.
 */
public final class SamplerPool implements AutoCloseable {
  private final ExecutorService executor;
  private final int threads;
  // One RowSampler per pool thread: its buffers are reused row after row.
  private final ThreadLocal<RowSampler> samplers = ThreadLocal.withInitial(RowSampler::new);

  public SamplerPool(int threads) {
    this.threads = threads;
    AtomicInteger n = new AtomicInteger();
    this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "tally-sampler-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
  }

  public int threads() {
    return threads;
  }

  /**
   * Samples every row of {@code logits}; row {@code i} with {@code jobs[i]}. The future completes
   * on a pool thread once all rows are done; row failures are inside the results, never an
   * exceptional completion.
   */
  public CompletableFuture<RowResult[]> sample(LogitsTensor logits, RowJob[] jobs) {
    int rows = jobs.length;
    RowResult[] results = new RowResult[rows];
    CompletableFuture<RowResult[]> done = new CompletableFuture<>();
    if (rows == 0) {
      done.complete(results);
      return done;
    }
    AtomicInteger next = new AtomicInteger();
    AtomicInteger remaining = new AtomicInteger(rows);
    Runnable worker = () -> {
      RowSampler sampler = samplers.get();
      for (int row; (row = next.getAndIncrement()) < rows; ) {
        RowJob job = jobs[row];
        try {
          results[row] = sampler.sample(logits, row, job.chain(), job.history(), job.seed());
        } catch (RuntimeException | Error e) {
          done.completeExceptionally(e); // a bug in Tally itself, not a bad row
          return;
        }
        if (remaining.decrementAndGet() == 0) {
          done.complete(results);
        }
      }
    };
    int workers = Math.min(rows, threads);
    try {
      for (int i = 0; i < workers; i++) {
        executor.execute(worker);
      }
    } catch (RuntimeException e) {
      done.completeExceptionally(e); // rejected: the pool is shut down
    }
    return done;
  }

  /** Stops accepting work and waits for running rows. */
  @Override
  public void close() {
    executor.shutdown();
    try {
      if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
        executor.shutdownNow();
      }
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
