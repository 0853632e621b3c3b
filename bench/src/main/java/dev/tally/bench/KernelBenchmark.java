package dev.tally.bench;

import dev.tally.core.kernel.Kernels;
import dev.tally.core.tensor.DType;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.spi.Candidates;
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
 * The full-vocabulary passes of one row, each alone, so {@link RowSamplerBenchmark}'s total can be
 * broken down: decode, max, Σexp, rank count, and the top-k scan. Logits are 3·N(0,1).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class KernelBenchmark {
  @Param({"128256"})
  int vocab;

  @Param({"vector", "scalar"})
  String kernels;

  private Kernels k;
  private LogitsTensor f32;
  private LogitsTensor bf16;
  private float[] row;
  private float[] terms;
  private long halfWeight;
  private float[] dst;
  private short[] halves;
  private float max;
  private Candidates candidates;

  @Setup(Level.Trial)
  public void setUp() {
    k = kernels.equals("vector") ? Kernels.vector() : Kernels.scalar();
    Random r = new Random(42);
    row = new float[vocab];
    ByteBuffer f = ByteBuffer.allocate(vocab * 4).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer b = ByteBuffer.allocate(vocab * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < vocab; i++) {
      row[i] = (float) (3 * r.nextGaussian());
      f.putFloat(row[i]);
      b.putShort((short) (Float.floatToIntBits(row[i]) >>> 16));
    }
    f32 = LogitsTensor.of(DType.FLOAT32, 1, vocab, f.flip());
    bf16 = LogitsTensor.of(DType.BFLOAT16, 1, vocab, b.flip());
    dst = new float[vocab];
    halves = new short[vocab];
    max = k.maxOrNaN(row, vocab);
    terms = new float[vocab];
    k.sumExpInto(row, vocab, max, terms);
    halfWeight = k.weightSum(terms, vocab) / 2;
    candidates = new Candidates(k);
  }

  @Benchmark
  public float decodeFloat32() {
    f32.decodeRow(0, dst, halves, k);
    return dst[7];
  }

  @Benchmark
  public float decodeBfloat16() {
    bf16.decodeRow(0, dst, halves, k);
    return dst[7];
  }

  /** The engine's first pass, decode and max a 2,048-token chunk at a time (its top list aside). */
  @Benchmark
  public float decodeMaxChunkedFloat32() {
    return decodeMaxChunked(f32);
  }

  @Benchmark
  public float decodeMaxChunkedBfloat16() {
    return decodeMaxChunked(bf16);
  }

  private float decodeMaxChunked(LogitsTensor t) {
    float m = Float.NEGATIVE_INFINITY;
    for (int from = 0; from < vocab; from += 2048) {
      int to = Math.min(vocab, from + 2048);
      t.decodeRange(0, from, to, dst, halves, k);
      m = Math.max(m, k.maxOrNaN(dst, from, to));
    }
    return m;
  }

  @Benchmark
  public float maxOrNaN() {
    return k.maxOrNaN(row, vocab);
  }

  @Benchmark
  public double sumExp() {
    return k.sumExp(row, vocab, max);
  }

  @Benchmark
  public double sumExpInto() {
    return k.sumExpInto(row, vocab, max, terms);
  }

  /** A top-p probe: the float mass of the tokens within 8 of the max. */
  @Benchmark
  public double sumAtLeast() {
    return k.sumAtLeast(row, terms, vocab, max - 8);
  }

  /** The exact fixed-point mass of the row (top-p's total, the draw's). */
  @Benchmark
  public long weightSum() {
    return k.weightSum(terms, vocab);
  }

  @Benchmark
  public long weightSumAtLeast() {
    return k.weightSumAtLeast(row, terms, vocab, max - 8);
  }

  /** The draw's walk to the middle of the mass. */
  @Benchmark
  public int weightIndexAbove() {
    return k.weightIndexAbove(terms, vocab, halfWeight);
  }

  @Benchmark
  public int countAtLeast() {
    return k.countAtLeast(row, vocab, 9f);
  }

  @Benchmark
  public int topK40() {
    candidates.reset(vocab);
    System.arraycopy(row, 0, candidates.logits(), 0, vocab);
    candidates.keepTop(40);
    return candidates.id(0);
  }

  @Benchmark
  public int copyOnly() {
    candidates.reset(vocab);
    System.arraycopy(row, 0, candidates.logits(), 0, vocab);
    return candidates.size();
  }
}
