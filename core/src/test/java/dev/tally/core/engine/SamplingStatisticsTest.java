package dev.tally.core.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.core.testing.ChiSquare;
import dev.tally.core.testing.Sampling;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goodness of fit of the seeded draw: 100,000 draws per configuration (fixed seeds, so the test is
 * deterministic) against the renormalised distribution the configuration should produce, computed
 * here from the definitions in double precision. Tokens the configuration removes must never be
 * drawn; the surviving tokens must pass Pearson's chi-square test at p = 0.001 with survivors − 1
 * degrees of freedom.
 */
final class SamplingStatisticsTest {
  private static final int DRAWS = 100_000;
  private static final double ALPHA = 0.001;
  private static final float[] LOGITS = {2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -3.0f};

  private static double[] softmax(double[] logits) {
    double max = Arrays.stream(logits).max().orElseThrow();
    double[] p = new double[logits.length];
    double sum = 0;
    for (int i = 0; i < p.length; i++) {
      p[i] = logits[i] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(logits[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= sum;
    }
    return p;
  }

  private static double[] logits(double temperature) {
    double[] l = new double[LOGITS.length];
    for (int i = 0; i < l.length; i++) {
      l[i] = LOGITS[i] / temperature;
    }
    return l;
  }

  /** Zeroes every token but the first {@code keep} of the (already descending) logits. */
  private static double[] keepFirst(double[] p, int keep) {
    double[] out = p.clone();
    Arrays.fill(out, keep, out.length, 0);
    return out;
  }

  /** The shortest prefix whose mass reaches p; the boundary must be clear of rounding. */
  private static int nucleusSize(double[] probabilities, double topP) {
    double mass = 0;
    for (int i = 0; i < probabilities.length; i++) {
      mass += probabilities[i];
      if (mass >= topP) {
        assertThat(Math.abs(mass - topP)).as("top_p boundary is ambiguous").isGreaterThan(1e-3);
        return i + 1;
      }
    }
    return probabilities.length;
  }

  private static double[] renormalise(double[] weights) {
    double sum = Arrays.stream(weights).sum();
    return Arrays.stream(weights).map(w -> w / sum).toArray();
  }

  private interface Draw {
    int token(int i);
  }

  private static void assertFits(String what, double[] expectedP, Draw draw) {
    long[] counts = new long[expectedP.length];
    for (int i = 0; i < DRAWS; i++) {
      counts[draw.token(i)]++;
    }
    List<Long> observed = new ArrayList<>();
    List<Double> expected = new ArrayList<>();
    for (int t = 0; t < expectedP.length; t++) {
      if (expectedP[t] == 0) {
        assertThat(counts[t]).as("%s: token %d was removed but drawn", what, t).isZero();
      } else {
        assertThat(expectedP[t] * DRAWS).as("%s: expected count of token %d", what, t)
            .isGreaterThanOrEqualTo(5);
        observed.add(counts[t]);
        expected.add(expectedP[t] * DRAWS);
      }
    }
    double x2 = ChiSquare.statistic(observed.stream().mapToLong(Long::longValue).toArray(),
        expected.stream().mapToDouble(Double::doubleValue).toArray());
    int dof = observed.size() - 1;
    double critical = ChiSquare.criticalValue(dof, ALPHA);
    assertThat(x2).as("%s: chi-square %.2f with %d dof (critical %.2f), counts %s", what, x2, dof,
        critical, Arrays.toString(counts)).isLessThan(critical);
  }

  /** Draws with seeds base, base + 1, ... and an empty history (counter 0). */
  private static void assertFitsOverSeeds(String what, SamplingConfig config, double[] expected,
      long base) {
    assertFitsOverSeeds(what, config, TokenLog.empty(), expected, base);
  }

  /** Draws with seeds base, base + 1, ... and a fixed history (counter = its output length). */
  private static void assertFitsOverSeeds(String what, SamplingConfig config, TokenLog history,
      double[] expected, long base) {
    Chain chain = Sampling.compile(config);
    LogitsTensor t = LogitsTensor.ofFloats(1, LOGITS.length, LOGITS);
    RowSampler sampler = new RowSampler();
    assertFits(what, expected, i -> sampler.sample(t, 0, chain, history, base + i).tokenId());
  }

  @Test
  void plainSampling() {
    assertFitsOverSeeds("plain", new SamplingConfig(), softmax(logits(1)), 1_000_000);
  }

  @Test
  void plainSamplingOverTheCounter() {
    // One seed, one sequence growing a token per step: the counter is the output length.
    Chain chain = Sampling.compile(new SamplingConfig());
    LogitsTensor t = LogitsTensor.ofFloats(1, LOGITS.length, LOGITS);
    RowSampler sampler = new RowSampler();
    TokenLog history = TokenLog.of(new int[] {1, 2, 3}, new int[0]);
    assertFits("plain over the counter", softmax(logits(1)), i -> {
      assertThat(history.outputLength()).isEqualTo(i);
      int token = sampler.sample(t, 0, chain, history, 77).tokenId();
      history.append(token);
      return token;
    });
  }

  @Test
  void temperature() {
    assertFitsOverSeeds("temperature 0.7", new SamplingConfig().temperature(0.7f),
        softmax(logits(0.7f)), 2_000_000);
    assertFitsOverSeeds("temperature 1.8", new SamplingConfig().temperature(1.8f),
        softmax(logits(1.8f)), 3_000_000);
  }

  @Test
  void topK() {
    assertFitsOverSeeds("top_k 4", new SamplingConfig().topK(4),
        renormalise(keepFirst(softmax(logits(1)), 4)), 4_000_000);
  }

  @Test
  void topP() {
    double[] p = softmax(logits(1));
    int keep = nucleusSize(p, 0.75f);
    assertThat(keep).isEqualTo(3);
    assertFitsOverSeeds("top_p 0.75", new SamplingConfig().topP(0.75f),
        renormalise(keepFirst(p, keep)), 5_000_000);
  }

  @Test
  void minP() {
    double[] p = softmax(logits(1));
    double[] kept = p.clone();
    for (int i = 0; i < kept.length; i++) {
      if (kept[i] < 0.1 * p[0]) {
        kept[i] = 0;
      }
    }
    assertThat(Arrays.stream(kept).filter(x -> x > 0).count()).isEqualTo(5);
    assertFitsOverSeeds("min_p 0.1", new SamplingConfig().minP(0.1f), renormalise(kept),
        6_000_000);
  }

  @Test
  void temperatureThenTopPAndMinP() {
    // Temperature first: truncation sees softmax(logits / 0.7).
    double[] p = softmax(logits(0.7f));
    int keep = nucleusSize(p, 0.9f);
    double[] kept = keepFirst(p, keep);
    for (int i = 0; i < kept.length; i++) {
      if (kept[i] < 0.05 * p[0]) {
        kept[i] = 0;
      }
    }
    assertFitsOverSeeds("temperature 0.7, top_p 0.9, min_p 0.05", new SamplingConfig()
        .temperature(0.7f).topP(0.9f).minP(0.05f), renormalise(kept), 7_000_000);
  }

  @Test
  void temperatureLastTopKThenTemperature() {
    // llama.cpp order: top_k 3 on the raw logits, then temperature 0.5 on the survivors.
    double[] p = softmax(logits(0.5f));
    assertFitsOverSeeds("top_k 3 then temperature 0.5", new SamplingConfig().topK(3)
        .temperature(0.5f).temperatureLast(true), renormalise(keepFirst(p, 3)), 8_000_000);
  }

  @Test
  void typicalP() {
    // Locally typical sampling from its definition, in double: order by |-ln p - H| ascending
    // (ties to the lower id), keep until the running mass exceeds typical_p.
    double[] p = softmax(logits(1));
    double entropy = 0;
    for (double x : p) {
      entropy -= x * Math.log(x);
    }
    double h = entropy;
    Integer[] order = new Integer[p.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> {
      int byScore = Double.compare(Math.abs(-Math.log(p[a]) - h), Math.abs(-Math.log(p[b]) - h));
      return byScore != 0 ? byScore : Integer.compare(a, b);
    });
    for (float typical : new float[] {0.5f, 0.9f}) {
      double[] kept = new double[p.length];
      double mass = 0;
      for (int token : order) {
        kept[token] = p[token];
        mass += p[token];
        if (mass > typical) {
          assertThat(Math.abs(mass - typical)).as("typical_p boundary is ambiguous")
              .isGreaterThan(1e-3);
          break;
        }
      }
      long survivors = Arrays.stream(kept).filter(x -> x > 0).count();
      assertThat(survivors).as("typical_p %s keeps a strict subset", typical)
          .isBetween(2L, (long) p.length - 1);
      assertFitsOverSeeds("typical_p " + typical, new SamplingConfig().typicalP(typical),
          renormalise(kept), 9_000_000 + (long) (typical * 1000));
    }
  }

  @Test
  void penalties() {
    // Prompt [0, 3, 3], output [1, 1, 2, 7]: repetition 1.3 on every distinct token of prompt and
    // output (positive logits divided, others multiplied), then frequency 0.3 and presence 0.4 on
    // the output counts (1: twice, 2 and 7: once).
    TokenLog history = TokenLog.of(new int[] {0, 3, 3}, new int[] {1, 1, 2, 7});
    double[] l = logits(1);
    for (int token : new int[] {0, 1, 2, 3, 7}) {
      l[token] = l[token] > 0 ? l[token] / 1.3 : l[token] * 1.3;
    }
    l[1] -= 2 * 0.3 + 0.4;
    l[2] -= 0.3 + 0.4;
    l[7] -= 0.3 + 0.4;
    SamplingConfig all = new SamplingConfig().repetitionPenalty(1.3f).frequencyPenalty(0.3f)
        .presencePenalty(0.4f);
    assertFitsOverSeeds("repetition 1.3, frequency 0.3, presence 0.4", all, history, softmax(l),
        10_000_000);

    // penalty_last_n 3: the window is [1, 2, 7], all output tokens, each once.
    double[] w = logits(1);
    for (int token : new int[] {1, 2, 7}) {
      w[token] = w[token] > 0 ? w[token] / 1.3 : w[token] * 1.3;
      w[token] -= 0.3 + 0.4;
    }
    SamplingConfig windowed = new SamplingConfig().repetitionPenalty(1.3f).frequencyPenalty(0.3f)
        .presencePenalty(0.4f).penaltyLastN(3);
    assertFitsOverSeeds("penalties over the last 3 tokens", windowed, history, softmax(w),
        11_000_000);
  }
}
