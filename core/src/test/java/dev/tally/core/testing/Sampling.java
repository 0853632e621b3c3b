package dev.tally.core.testing;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one row end to end the way the server does: built-ins found through {@code ServiceLoader},
 * a {@link ChainCompiler}, a {@link RowSampler}.
 */
public final class Sampling {
  /** The most top_logprobs the test compiler allows. */
  public static final int MAX_TOP_LOGPROBS = 64;

  public static final ProcessorRegistry BUILTINS =
      ProcessorRegistry.fromServiceLoader(Sampling.class.getClassLoader());

  private Sampling() {}

  public static ChainCompiler compiler() {
    return new ChainCompiler(BUILTINS, MAX_TOP_LOGPROBS);
  }

  public static Chain compile(SamplingConfig config) {
    return compiler().compile(config);
  }

  /** Samples one row; fails the test on a row error. */
  public static RowResult sample(SamplingConfig config, TokenLog history, long seed,
      float... logits) {
    RowResult r = sampleRaw(config, history, seed, logits);
    if (r.failed()) {
      throw new AssertionError("row failed: " + r.error().code() + " " + r.error().getMessage(),
          r.error());
    }
    return r;
  }

  /** Samples one row; the result may hold an error. */
  public static RowResult sampleRaw(SamplingConfig config, TokenLog history, long seed,
      float... logits) {
    Chain chain = compile(config);
    return new RowSampler().sample(LogitsTensor.ofFloats(1, logits.length, logits), 0, chain,
        history, seed);
  }

  public static RowResult sample(SamplingConfig config, float... logits) {
    return sample(config, TokenLog.empty(), 1234, logits);
  }

  /**
   * The tokens that survive the chain's processors, best first (processed logit descending, id
   * ascending), with their processed log-probabilities: processed top_logprobs with N = vocab.
   * Sets the config's top_logprobs and mode.
   */
  public static Map<Integer, Double> survivors(SamplingConfig config, TokenLog history,
      float... logits) {
    config.topLogprobs(Math.min(logits.length, MAX_TOP_LOGPROBS)).processedLogprobs(true);
    RowResult r = sample(config, history, 99, logits);
    Map<Integer, Double> out = new LinkedHashMap<>();
    for (int i = 0; i < r.topIds().length; i++) {
      out.put(r.topIds()[i], (double) r.topLogprobs()[i]);
    }
    return out;
  }

  public static Map<Integer, Double> survivors(SamplingConfig config, float... logits) {
    return survivors(config, TokenLog.empty(), logits);
  }

  /** Natural logs of the given probabilities, as float logits. */
  public static float[] logitsOf(double... probabilities) {
    float[] l = new float[probabilities.length];
    for (int i = 0; i < l.length; i++) {
      l[i] = (float) Math.log(probabilities[i]);
    }
    return l;
  }

  /** log softmax of {@code values} in double, -inf entries giving -inf. */
  public static double[] logSoftmax(double... values) {
    double max = Double.NEGATIVE_INFINITY;
    for (double v : values) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (double v : values) {
      sum += Math.exp(v - max);
    }
    double lse = max + Math.log(sum);
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i] - lse;
    }
    return out;
  }

  /** A parameterless processor factory for test plugins. */
  public static ProcessorFactory processor(String name,
      java.util.function.Function<Params, LogitsProcessor> create) {
    return new ProcessorFactory() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String description() {
        return "Test processor.";
      }

      @Override
      public List<ParamSpec> params() {
        return List.of();
      }

      @Override
      public LogitsProcessor create(Params params) {
        return create.apply(params);
      }
    };
  }
}
