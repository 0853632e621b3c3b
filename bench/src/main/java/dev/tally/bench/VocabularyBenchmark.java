package dev.tally.bench;

import dev.tally.core.engine.TokenLog;
import dev.tally.core.vocab.StopStringMatcher;
import dev.tally.core.vocab.StopStrings;
import dev.tally.core.vocab.Vocabulary;
import dev.tally.core.vocab.VocabularyRegistry;
import java.io.ByteArrayOutputStream;
import java.util.List;
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
 * What a vocabulary costs the server: building one from the registration's wire form (checks,
 * offsets, SHA-256 fingerprint) and registering it, and the per-row stop-string check. Tokens are
 * 1-16 random bytes (mean ≈ 8.5, a little above Llama 3's ≈ 6.5).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1)
public class VocabularyBenchmark {
  @Param({"256000"})
  int size;

  private byte[] bytes;
  private int[] lengths;
  private int[] special;
  private Vocabulary vocabulary;
  private StopStrings stops;
  private TokenLog history;
  private final StopStringMatcher matcher = new StopStringMatcher();
  private int token;

  @Setup(Level.Trial)
  public void setUp() {
    Random r = new Random(7);
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    lengths = new int[size];
    for (int id = 0; id < size; id++) {
      byte[] t = new byte[1 + r.nextInt(16)];
      r.nextBytes(t);
      all.writeBytes(t);
      lengths[id] = t.length;
    }
    bytes = all.toByteArray();
    special = new int[256];
    for (int i = 0; i < special.length; i++) {
      special[i] = size - 256 + i;
    }
    vocabulary = Vocabulary.of("bench", bytes, lengths, special, new int[] {size - 1});
    stops = StopStrings.of(List.of("\n\n", "</answer>", "Observation:", "```"), 0);
    int[] output = new int[200];
    for (int i = 0; i < output.length; i++) {
      output[i] = r.nextInt(size - 256);
    }
    history = TokenLog.of(new int[] {1, 2, 3}, output);
    token = r.nextInt(size - 256);
  }

  /** {@code RegisterVocabulary} after the protobuf parse: build and register. */
  @Benchmark
  public boolean register() {
    Vocabulary v = Vocabulary.of("bench", bytes, lengths, special, new int[] {size - 1});
    return new VocabularyRegistry(1, 1L << 30).register(v);
  }

  /** One row's stop-string check: four strings, a 200-token output. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public long stopStrings() {
    return matcher.find(stops, vocabulary, history, token);
  }
}
