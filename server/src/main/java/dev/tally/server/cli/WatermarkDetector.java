package dev.tally.server.cli;

import java.util.HashSet;
import java.util.Set;

/**
 * Detection for the {@code watermark} plugin: counts the green tokens of a sequence and turns the
 * count into a z-score, as Kirchenbauer et al. and HF's {@code WatermarkDetector} do: {@code z =
 * (green − γ·T) / sqrt(T·γ·(1 − γ))} over the T scored tokens. A token is scored when its
 * previous token is known; with {@code ignoreRepeatedBigrams} each (previous, token) pair is scored
 * once (HF's {@code ignore_repeated_ngrams}), so a loop of repeated text cannot inflate the score.
 *
 * <p>The green-list rule is the plugin's ({@code dev.tally.plugins.watermark.GreenList}, documented
 * in {@code docs/plugins.md}), reimplemented here because the server does not depend on plugins;
 * {@code ShippedPluginsEndToEndTest} checks that the two agree.
 */
final class WatermarkDetector {
  /** The outcome for one sequence. */
  record Result(int scored, int green, double gamma, double z, double pValue) {
    double greenFraction() {
      return scored == 0 ? 0 : green / (double) scored;
    }
  }

  private final int vocabSize;
  private final double gamma;
  private final long hashKey;
  private final int greenSize;

  WatermarkDetector(int vocabSize, double gamma, long hashKey) {
    if (vocabSize < 1 || !(gamma > 0 && gamma < 1)) {
      throw new IllegalArgumentException("need vocab size >= 1 and gamma in (0, 1)");
    }
    this.vocabSize = vocabSize;
    this.gamma = gamma;
    this.hashKey = hashKey;
    this.greenSize = (int) (vocabSize * gamma);
  }

  /**
   * Scores {@code tokens}; {@code tokens[0]} serves only as context unless {@code context} (the
   * token before it, e.g. the prompt's last) is given.
   */
  Result detect(int[] tokens, Integer context, boolean ignoreRepeatedBigrams) {
    int scored = 0;
    int green = 0;
    Set<Long> seen = new HashSet<>();
    for (int i = 0; i < tokens.length; i++) {
      int previous;
      if (i > 0) {
        previous = tokens[i - 1];
      } else if (context != null) {
        previous = context;
      } else {
        continue;
      }
      int token = tokens[i];
      if (token < 0 || token >= vocabSize || previous < 0) {
        throw new IllegalArgumentException("token " + (token < 0 || token >= vocabSize ? token
            : previous) + " is outside the vocabulary of " + vocabSize);
      }
      if (ignoreRepeatedBigrams && !seen.add(((long) previous << 32) | token)) {
        continue;
      }
      scored++;
      if (isGreen(token, previous)) {
        green++;
      }
    }
    double z = scored == 0 ? 0
        : (green - gamma * scored) / Math.sqrt(scored * gamma * (1 - gamma));
    return new Result(scored, green, gamma, z, scored == 0 ? 1 : upperTail(z));
  }

  /** Whether {@code token} is green after {@code previous}: see the plugin's GreenList. */
  boolean isGreen(int token, int previous) {
    int position = token;
    long state = hashKey * previous;
    for (int i = 0; i < greenSize; i++) {
      state += 0x9E3779B97F4A7C15L;
      long z = state;
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      z = z ^ (z >>> 31);
      int j = i + (int) Long.remainderUnsigned(z, vocabSize - i);
      if (j == position) {
        return true;
      }
      if (i == position) {
        position = j;
      }
    }
    return position < greenSize;
  }

  /** P(Z ≥ z) for a standard normal: erfc(z/√2)/2. */
  static double upperTail(double z) {
    return 0.5 * erfc(z / Math.sqrt(2));
  }

  /** erfc with relative error below 1.2e-7 (Numerical Recipes' Chebyshev fit). */
  static double erfc(double x) {
    double z = Math.abs(x);
    double t = 1 / (1 + 0.5 * z);
    double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196
        + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398
        + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0 ? r : 2 - r;
  }
}
