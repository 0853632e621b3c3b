package dev.tally.core.engine;

import dev.tally.core.kernel.Kernels;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.tensor.DType;
import dev.tally.core.tensor.LogitsTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;

/**
 * Runs the sampling paths on synthetic rows before a server takes traffic, so the JIT has compiled
 * them. Vector API code runs orders of magnitude slower before C2 compiles it (every vector is an
 * object in the interpreter): without this, the first steps of a fresh server took seconds each.
 * First each vocabulary-sized loop runs alone until its calls are fast (compiled), then whole rows
 * run through a few common chains for the code around the loops.
 */
public final class Warmup {
  private static final int VOCAB = 2048;
  private static final long ROWS_MILLIS = 1000;
  private static final List<SamplingConfig> CHAINS = List.of(
      new SamplingConfig().repetitionPenalty(1.1f).penaltyLastN(64).topK(40).topP(0.95f)
          .minP(0.05f).temperature(0.8f).temperatureLast(true).topLogprobs(5),
      new SamplingConfig().temperature(0.7f).topP(0.9f).topLogprobs(2),
      new SamplingConfig().temperature(0f).topLogprobs(5));

  private static final java.util.concurrent.atomic.AtomicBoolean DONE =
      new java.util.concurrent.atomic.AtomicBoolean();

  private Warmup() {}

  /**
   * {@link #run} the first time this JVM calls it (compiled code is shared by every thread and
   * every server in the JVM); 0 after that.
   */
  public static int once(long millis) {
    return DONE.compareAndSet(false, true) ? run(millis) : 0;
  }

  /**
   * Warms each vocabulary loop until it is compiled, then samples synthetic rows (each dtype, a
   * few common built-in chains) for up to a second; all of it within {@code millis} milliseconds,
   * on this thread. Returns how many rows it sampled.
   */
  public static int run(long millis) {
    long end = System.nanoTime() + millis * 1_000_000L;
    warmKernels(Kernels.best(), end);
    ProcessorRegistry registry = ProcessorRegistry.fromServiceLoader(Warmup.class.getClassLoader());
    ChainCompiler compiler = new ChainCompiler(registry, 5);
    Chain[] chains = CHAINS.stream().map(compiler::compile).toArray(Chain[]::new);
    LogitsTensor[] rows = {tensor(DType.FLOAT32), tensor(DType.BFLOAT16), tensor(DType.FLOAT16)};
    TokenLog history = TokenLog.of(new int[] {1, 2, 3, 4}, new int[] {5, 6});
    RowSampler sampler = new RowSampler(Kernels.best());
    end = Math.min(end, System.nanoTime() + ROWS_MILLIS * 1_000_000L);
    int sampled = 0;
    while (System.nanoTime() < end) {
      for (LogitsTensor row : rows) {
        for (Chain chain : chains) {
          sampler.sample(row, 0, chain, history, sampled);
          sampled++;
        }
      }
    }
    return sampled;
  }

  /**
   * Calls each full-vocabulary loop on a 16k row until five calls in a row take under 100 µs
   * (compiled: about 10 µs; interpreted Vector API code: hundreds of milliseconds), or time is up.
   */
  private static void warmKernels(Kernels k, long end) {
    int n = 16_384;
    Random r = new Random(11);
    float[] x = new float[n];
    short[] halves = new short[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (3 * r.nextGaussian());
      halves[i] = (short) (Float.floatToIntBits(x[i]) >>> 16);
    }
    float[] y = new float[n];
    int[] ids = new int[n];
    float max = k.maxOrNaN(x, n);
    List<Runnable> loops = List.of(
        () -> k.maxOrNaN(x, n),
        () -> k.sumExp(x, n, max),
        () -> k.sumExpAtLeast(x, n, max, max - 4f),
        () -> k.sumExpInto(x, n, max, y),
        () -> k.sumAtLeast(x, y, n, max - 4f),
        () -> k.weightSum(y, n),
        () -> k.weightSumAtLeast(x, y, n, max - 4f),
        () -> k.weightIndexAbove(y, n, 1L << 40),
        () -> k.indicesAtLeast(x, n, max - 2f, ids),
        () -> k.countAtLeast(x, n, 2f),
        () -> k.nextAtLeast(x, 0, n, max),
        () -> k.widenBfloat16(halves, y, 0, n),
        () -> k.widenFloat16(halves, y, 0, n));
    for (Runnable loop : loops) {
      int fast = 0;
      while (fast < 5 && System.nanoTime() < end) {
        long start = System.nanoTime();
        loop.run();
        fast = System.nanoTime() - start < 100_000 ? fast + 1 : 0;
      }
    }
  }

  private static LogitsTensor tensor(DType dtype) {
    Random r = new Random(7);
    ByteBuffer b = ByteBuffer.allocate(VOCAB * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < VOCAB; i++) {
      float x = (float) (3 * r.nextGaussian());
      switch (dtype) {
        case FLOAT32 -> b.putFloat(x);
        case BFLOAT16 -> b.putShort((short) (Float.floatToIntBits(x) >>> 16));
        // binary16 bits of a finite value in ±[1/8, 8): sign, exponent 12..17, random mantissa
        default -> b.putShort((short) ((r.nextInt(2) << 15) | ((12 + r.nextInt(6)) << 10)
            | r.nextInt(1024)));
      }
    }
    return LogitsTensor.of(dtype, 1, VOCAB, b.flip());
  }
}
