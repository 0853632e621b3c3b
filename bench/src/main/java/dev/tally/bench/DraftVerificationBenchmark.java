package dev.tally.bench;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
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
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Issue #15's verification cost: 32 sequences with k = 4 drafts each (160 rows, every draft
 * accepted, so every row runs: the worst case) verified as a sampler thread runs a block (rows in
 * order, each on the block's history copy grown by the accepted drafts), against the same 160 rows
 * sampled as ordinary rows with their histories given. bf16, the default chain, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class DraftVerificationBenchmark {
  private static final int SEQUENCES = 32;
  private static final int K = 4;
  private static final int ROWS = SEQUENCES * (K + 1);

  @Param({"128256"})
  int vocab;

  private final RowSampler sampler = new RowSampler();
  private LogitsTensor logits;
  private Chain chain;
  private TokenLog[] sequences;
  private TokenLog[] rowHistories;
  private int[][] drafts;

  @Setup
  public void setUp() {
    Random r = new Random(15);
    ByteBuffer bytes = ByteBuffer.allocateDirect(ROWS * vocab * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < ROWS * vocab; i++) {
      bytes.putShort((short) (Float.floatToIntBits((float) (3 * r.nextGaussian())) >>> 16));
    }
    bytes.flip();
    logits = LogitsTensor.of(DType.BFLOAT16, ROWS, vocab, bytes);
    chain = new ChainCompiler(ProcessorRegistry.fromServiceLoader(getClass().getClassLoader()), 20)
        .compile(RowSamplerBenchmark.Chains.DEFAULT.config);
    sequences = new TokenLog[SEQUENCES];
    rowHistories = new TokenLog[ROWS];
    drafts = new int[SEQUENCES][K];
    for (int s = 0; s < SEQUENCES; s++) {
      int[] prompt = new int[48];
      for (int i = 0; i < prompt.length; i++) {
        prompt[i] = r.nextInt(vocab);
      }
      sequences[s] = TokenLog.of(prompt, new int[0]);
      // The drafts are what the rows draw, so verification accepts them all.
      TokenLog h = sequences[s].copy();
      for (int j = 0; j <= K; j++) {
        rowHistories[s * (K + 1) + j] = h.copy();
        int token = sampler.sample(logits, s * (K + 1) + j, chain, h, s).tokenId();
        if (j < K) {
          drafts[s][j] = token;
          h.append(token);
        }
      }
    }
  }

  /** The 160 rows as ordinary rows, each with its history. */
  @Benchmark
  public RowResult plainRows() {
    RowResult last = null;
    for (int row = 0; row < ROWS; row++) {
      last = sampler.sample(logits, row, chain, rowHistories[row], row / (K + 1));
    }
    return last;
  }

  /** The same rows as 32 draft blocks, verified as the server's pool runs a block. */
  @Benchmark
  public RowResult verifiedBlocks() {
    RowResult last = null;
    for (int s = 0; s < SEQUENCES; s++) {
      TokenLog h = sequences[s].copy();
      for (int j = 0; j <= K; j++) {
        last = sampler.verify(logits, s * (K + 1) + j, chain, h, s,
            j < K ? drafts[s][j] : RowSampler.BONUS);
        if (j < K && last.continuesDraft()) {
          h.append(drafts[s][j]);
        } else {
          break;
        }
      }
    }
    if (last.verdict() != RowResult.Verdict.BONUS) {
      throw new IllegalStateException("a draft was not accepted: " + last.verdict());
    }
    return last;
  }
}
