package dev.tally.bench;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.tensor.DType;
import dev.tally.core.tensor.LogitsTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One row through the whole engine, as a sampler thread runs it: decode, NaN check, raw
 * log-sum-exp, the chain, the draw, raw logprob, rank and top-5. Logits are 3·N(0,1), as in the
 * reference figures of issue 5; the seed changes every call so the draw does not repeat.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class RowSamplerBenchmark {
  /** The configurations of issue 5. */
  public enum Chains {
    /** llama.cpp's default chain: penalty over 64 tokens, top-k 40, top-p 0.95, min-p 0.05, T 0.8. */
    DEFAULT(new SamplingConfig().repetitionPenalty(1.1f).penaltyLastN(64).topK(40).topP(0.95f)
        .minP(0.05f).temperature(0.8f).temperatureLast(true).topLogprobs(5)),
    /** The same settings in the vLLM / HF order (temperature over the whole vocabulary first). */
    DEFAULT_TEMPERATURE_FIRST(new SamplingConfig().repetitionPenalty(1.1f).penaltyLastN(64).topK(40)
        .topP(0.95f).minP(0.05f).temperature(0.8f).topLogprobs(5)),
    /** Nucleus alone: no top-k to shrink the candidates first. */
    TOP_P(new SamplingConfig().topP(0.9f).topLogprobs(5)),
    /** The draw over the whole vocabulary (no truncation, temperature 1: OpenAI's defaults). */
    DRAW(new SamplingConfig().topLogprobs(5)),
    /** Greedy, with the raw logprob, rank and top-5. */
    GREEDY(new SamplingConfig().temperature(0f).topLogprobs(5));

    final SamplingConfig config;

    Chains(SamplingConfig config) {
      this.config = config;
    }
  }

  /** Where the tokens a penalty looks at sit in the row. */
  public enum Histories {
    /** 48 prompt and 16 output tokens anywhere in the vocabulary: a penalty rarely meets the best. */
    RANDOM,
    /**
     * 48 random prompt tokens, then 64 tokens the chain drew from the row itself: a sequence that
     * said its likely tokens, whose penalty lowers the row's best (as in the sessions of the
     * Python transport benchmark, which sample the same logits step after step).
     */
    DRAWN
  }

  @Param({"32000", "128256", "256000"})
  int vocab;

  @Param({"FLOAT32", "BFLOAT16"})
  DType dtype;

  @Param({"DEFAULT", "DEFAULT_TEMPERATURE_FIRST", "TOP_P", "DRAW", "GREEDY"})
  Chains chain;

  @Param({"RANDOM", "DRAWN"})
  Histories history;

  private LogitsTensor logits;
  private Chain compiled;
  private TokenLog rowHistory;
  private final RowSampler sampler = new RowSampler();
  private long seed;

  @Setup(Level.Trial)
  public void setUp() {
    Random r = new Random(42);
    logits = randomLogits(ByteBuffer.allocate(vocab * dtype.bytes()), 1, r);
    ProcessorRegistry registry = ProcessorRegistry.fromServiceLoader(getClass().getClassLoader());
    compiled = new ChainCompiler(registry, 20).compile(chain.config);
    rowHistory = history(logits, 0, r);
    Random s = new Random(43);
    steps = new LogitsTensor[2];
    stepHistories = new TokenLog[2][STEP_ROWS];
    for (int t = 0; t < steps.length; t++) {
      steps[t] = randomLogits(
          ByteBuffer.allocateDirect(STEP_ROWS * vocab * dtype.bytes()), STEP_ROWS, s);
      for (int row = 0; row < STEP_ROWS; row++) {
        stepHistories[t][row] = history(steps[t], row, s);
      }
    }
  }

  private TokenLog history(LogitsTensor t, int row, Random r) {
    int[] prompt = new int[48];
    for (int i = 0; i < prompt.length; i++) {
      prompt[i] = r.nextInt(vocab);
    }
    if (history == Histories.RANDOM) {
      int[] output = new int[16];
      for (int i = 0; i < output.length; i++) {
        output[i] = r.nextInt(vocab);
      }
      return TokenLog.of(prompt, output);
    }
    TokenLog h = TokenLog.of(prompt, new int[0]);
    for (int i = 0; i < 64; i++) {
      h.append(sampler.sample(t, row, compiled, h, r.nextLong()).tokenId());
    }
    return h;
  }

  @Benchmark
  public RowResult sampleRow() {
    return sampler.sample(logits, 0, compiled, rowHistory, seed++);
  }

  /**
   * A whole [32 × vocab] step's rows one after another, as one sampler thread takes them, from
   * two 32-row tensors used in turn: the rows come from L3 or memory as in the server, not from
   * the L2 that {@link #sampleRow} reruns one row in. Divide by 32 for µs a row.
   */
  @Benchmark
  public RowResult sampleStep() {
    int which = (int) (seed & 1);
    RowResult last = null;
    for (int row = 0; row < STEP_ROWS; row++) {
      last = sampler.sample(steps[which], row, compiled, stepHistories[which][row], seed++);
    }
    return last;
  }

  private static final int STEP_ROWS = 32;
  private LogitsTensor[] steps;
  private TokenLog[][] stepHistories;

  /** {@code rows} rows of 3·N(0,1) logits in {@code bytes}, in this trial's dtype. */
  private LogitsTensor randomLogits(ByteBuffer bytes, int rows, Random r) {
    bytes.order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < rows * vocab; i++) {
      float x = (float) (3 * r.nextGaussian());
      if (dtype == DType.FLOAT32) {
        bytes.putFloat(x);
      } else {
        bytes.putShort((short) (Float.floatToIntBits(x) >>> 16));
      }
    }
    bytes.flip();
    return LogitsTensor.of(dtype, rows, vocab, bytes);
  }
}
