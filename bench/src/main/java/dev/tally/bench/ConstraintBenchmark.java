package dev.tally.bench;

import dev.tally.core.engine.TokenLog;
import dev.tally.core.vocab.Vocabulary;
import dev.tally.spi.Candidates;
import dev.tally.spi.Params;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SequenceState;
import dev.tally.spi.StatefulProcessor;
import dev.tally.spi.TokenHistory;
import dev.tally.structured.StructuredPlugin;
import dev.tally.structured.automaton.TokenDfa;
import dev.tally.structured.automaton.TokenTable;
import dev.tally.structured.regex.Regex;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.lucene.util.automaton.Automaton;
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
 * What a regex constraint costs per step and per compile, at a Llama-3-sized vocabulary: 128,256
 * tokens, every single byte plus 1-8-character tokens drawn from JSON-ish text. The pattern is a
 * small function-call object.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1)
public class ConstraintBenchmark {
  static final String PATTERN = "\\{\"name\": \"(get_weather|get_time|search)\", \"arguments\":"
      + " \\{\"city\": \"[A-Za-z ]{1,40}\", \"days\": [1-9][0-9]?\\}\\}";

  @Param({"128256"})
  int size;

  private Vocabulary vocabulary;
  private TokenTable table;
  private Automaton automaton;
  private StatefulProcessor<SequenceState> processor;
  private SequenceState state;
  private int stateAt;
  private float[] row;
  private final Candidates candidates = new Candidates();
  private final SamplingContext context = new SamplingContext() {
    @Override
    public TokenHistory history() {
      return TokenLog.empty();
    }

    @Override
    public long seed() {
      return 1;
    }

    @Override
    public double random(int stream) {
      return 0.5;
    }
  };

  @Setup(Level.Trial)
  @SuppressWarnings("unchecked")
  public void setUp() {
    Random r = new Random(3);
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    int[] lengths = new int[size];
    String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \"{}:,_";
    for (int id = 0; id < size; id++) {
      byte[] t;
      if (id < 256) {
        t = new byte[] {(byte) id};
      } else {
        StringBuilder s = new StringBuilder();
        for (int n = 1 + r.nextInt(8); n > 0; n--) {
          s.append(alphabet.charAt(r.nextInt(alphabet.length())));
        }
        t = s.toString().getBytes(StandardCharsets.US_ASCII);
      }
      all.writeBytes(t);
      lengths[id] = t.length;
    }
    vocabulary = Vocabulary.of("bench", all.toByteArray(), lengths, new int[] {size - 1},
        new int[] {size - 1});
    table = new TokenTable(vocabulary);
    automaton = Regex.compile(PATTERN);
    processor = (StatefulProcessor<SequenceState>) new StructuredPlugin().processorFactories()
        .get(0).create(Params.of(Map.of("pattern", PATTERN)).withVocabulary(vocabulary));
    // Inside the city string: the state most steps of such a call sit in.
    int[] prefix = ids("{\"name\": \"search\", \"arguments\": {\"city\": \"Par");
    state = processor.newState(TokenLog.of(new int[0], prefix));
    TokenDfa probe = new TokenDfa(automaton, table, new int[] {size - 1});
    stateAt = probe.start();
    for (int id : prefix) {
      stateAt = probe.step(stateAt, id);
    }
    row = new float[size];
    for (int i = 0; i < size; i++) {
      row[i] = (float) (3 * r.nextGaussian());
    }
    processor.apply(candidates(), context, state); // the state's mask, computed and cached
  }

  private static int[] ids(String text) {
    byte[] b = text.getBytes(StandardCharsets.US_ASCII);
    int[] ids = new int[b.length];
    for (int i = 0; i < b.length; i++) {
      ids[i] = b[i] & 0xFF; // single-byte tokens: id = byte
    }
    return ids;
  }

  private Candidates candidates() {
    candidates.resetShared(row, size);
    return candidates;
  }

  /** The row without a constraint: the baseline of {@link #constrainedStep}. */
  @Benchmark
  public int unconstrainedStep() {
    return candidates().size();
  }

  /** One step's mask applied from the cache (the state was seen before). */
  @Benchmark
  public int constrainedStep() {
    Candidates c = candidates();
    processor.apply(c, context, state);
    int n = c.size();
    c.restoreShared();
    return n;
  }

  /** The byte automaton over the vocabulary, without any mask: subtract from {@link #maskUncached}. */
  @Benchmark
  public TokenDfa tokenDfa() {
    return new TokenDfa(automaton, table, new int[] {size - 1});
  }

  /** A state's mask computed, not cached (plus {@link #tokenDfa}): every token walked. */
  @Benchmark
  public long[] maskUncached() {
    return new TokenDfa(automaton, table, new int[] {size - 1}).mask(stateAt);
  }

  /** Compiling the pattern to its automaton (what a new schema costs before its first mask). */
  @Benchmark
  public Automaton compile() {
    return Regex.compile(PATTERN);
  }
}
