package dev.tally.core.processor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.random.CounterRandom;
import dev.tally.core.registry.ParamBinder;
import dev.tally.core.registry.RegisteredFactory;
import dev.tally.core.testing.Sampling;
import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.Params;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Shared helpers for the anchor tests: building requests and reading survivors by token id. */
final class Anchors {
  private Anchors() {}

  /** A pipeline of the given stages, nothing else. */
  static SamplingConfig pipeline(StageSpec... stages) {
    return new SamplingConfig().pipeline(List.of(stages));
  }

  /** A stage with JSON-like parameters given as name, value, name, value… */
  static StageSpec stage(String name, Object... nameValue) {
    Map<String, Object> params = new LinkedHashMap<>();
    for (int i = 0; i < nameValue.length; i += 2) {
      params.put((String) nameValue[i], nameValue[i + 1]);
    }
    return new StageSpec(name, params);
  }

  /** A JSON list of numbers, as the server hands token-id lists to the binder. */
  static List<Object> ids(int... ids) {
    List<Object> out = new ArrayList<>();
    for (int id : ids) {
      out.add((double) id);
    }
    return out;
  }

  /** A JSON list of token-id lists. */
  static List<Object> sequences(int[]... sequences) {
    List<Object> out = new ArrayList<>();
    for (int[] s : sequences) {
      out.add(ids(s));
    }
    return out;
  }

  /** llama.cpp's {@code sampler_tester}: logit = logf(p) of the float probability. */
  static float[] llamaLogits(float... probabilities) {
    float[] l = new float[probabilities.length];
    for (int i = 0; i < l.length; i++) {
      l[i] = (float) Math.log(probabilities[i]);
    }
    return l;
  }

  /** HF's {@code torch.log(torch.tensor([...], dtype=float))}: log of the float32 value. */
  static float[] torchLog(double... probabilities) {
    float[] l = new float[probabilities.length];
    for (int i = 0; i < l.length; i++) {
      l[i] = (float) Math.log((float) probabilities[i]);
    }
    return l;
  }

  /** Survivors (best first) with their probabilities renormalised over the survivors. */
  static Map<Integer, Double> probabilities(SamplingConfig c, TokenLog history,
      float... logits) {
    Map<Integer, Double> out = new LinkedHashMap<>();
    Sampling.survivors(c, history, logits).forEach((id, lp) -> out.put(id, Math.exp(lp)));
    return out;
  }

  static Map<Integer, Double> probabilities(SamplingConfig c, float... logits) {
    return probabilities(c, TokenLog.empty(), logits);
  }

  /**
   * Asserts that exactly the given ids survive with the given probabilities, within {@code tol}.
   *
   * @param idThenProbability token id, probability, token id, probability…
   */
  static void assertProbabilities(Map<Integer, Double> survivors, double tol,
      double... idThenProbability) {
    Map<Integer, Double> expected = new LinkedHashMap<>();
    for (int i = 0; i < idThenProbability.length; i += 2) {
      expected.put((int) idThenProbability[i], idThenProbability[i + 1]);
    }
    assertThat(survivors.keySet()).as("surviving token ids of %s", survivors)
        .containsExactlyInAnyOrderElementsOf(expected.keySet());
    expected.forEach((id, p) -> assertThat(survivors.get(id)).as("probability of token %d", id)
        .isCloseTo(p, within(tol)));
  }

  /** Renormalises an anchor's un-renormalised expectation (e.g. llama.cpp typical and XTC). */
  static double[] renormalised(double... idThenWeight) {
    double sum = 0;
    for (int i = 1; i < idThenWeight.length; i += 2) {
      sum += idThenWeight[i];
    }
    double[] out = idThenWeight.clone();
    for (int i = 1; i < out.length; i += 2) {
      out[i] /= sum;
    }
    return out;
  }

  /** Token ids whose logit a request's processors set to -inf, from processed top_logprobs. */
  static List<Integer> removed(SamplingConfig c, TokenLog history, float... logits) {
    Map<Integer, Double> s = Sampling.survivors(c, history, logits);
    List<Integer> out = new ArrayList<>();
    for (int id = 0; id < logits.length; id++) {
      if (!s.containsKey(id)) {
        out.add(id);
      }
    }
    return out;
  }

  /** Candidates left after each stage, from explain mode; the selector's entry is dropped. */
  static List<Integer> stageCounts(SamplingConfig c, float... logits) {
    RowResult r = Sampling.sample(c.explain(true), logits);
    List<Integer> counts = new ArrayList<>();
    for (int i = 0; i < r.stages().size() - 1; i++) {
      counts.add(r.stages().get(i).candidates);
    }
    return counts;
  }

  /**
   * Runs one processor directly on fresh candidates, bypassing request validation (for anchor
   * vectors whose values Tally's schema refuses), and returns the survivors' probabilities.
   */
  static Map<Integer, Double> direct(LogitsProcessor p, TokenHistory history, long seed,
      float... logits) {
    Candidates c = Candidates.of(logits);
    p.apply(c, context(history, seed));
    double lse = c.logSumExp();
    Map<Integer, Double> out = new LinkedHashMap<>();
    for (int i = 0; i < c.size(); i++) {
      int id = c.id(i);
      if (c.logit(id) != Float.NEGATIVE_INFINITY) {
        out.put(id, Math.exp(c.logit(id) - lse));
      }
    }
    return out;
  }

  /**
   * A built-in processor created the way a request creates it (schema defaults filled in, values
   * validated), for tests that read its logits directly.
   */
  static LogitsProcessor create(String name, Object... nameValue) {
    RegisteredFactory f = Sampling.BUILTINS.lookup(name, "test");
    Params params = ParamBinder.bind(f, stage(name, nameValue).params(),
        ParamBinder.nested("pipeline[0]", name));
    return (LogitsProcessor) f.factory().create(params);
  }

  /** The logits after running the processors in order on {@code logits} (a copy). */
  static float[] logitsAfter(TokenHistory history, float[] logits, LogitsProcessor... processors) {
    Candidates c = Candidates.of(logits);
    for (LogitsProcessor p : processors) {
      p.apply(c, context(history, 0));
    }
    float[] out = new float[logits.length];
    System.arraycopy(c.logits(), 0, out, 0, logits.length);
    if (!c.isDense()) { // a token outside the candidate list is out, whatever its logit
      boolean[] in = new boolean[logits.length];
      for (int i = 0; i < c.size(); i++) {
        in[c.id(i)] = true;
      }
      for (int id = 0; id < out.length; id++) {
        if (!in[id]) {
          out[id] = Float.NEGATIVE_INFINITY;
        }
      }
    }
    return out;
  }

  /** The context a row sees: its history, and the counter-based random numbers of its seed. */
  static SamplingContext context(TokenHistory history, long seed) {
    return new SamplingContext() {
      @Override
      public TokenHistory history() {
        return history;
      }

      @Override
      public long seed() {
        return seed;
      }

      @Override
      public double random(int stream) {
        return CounterRandom.uniform(seed, history.outputLength(), stream);
      }
    };
  }
}
