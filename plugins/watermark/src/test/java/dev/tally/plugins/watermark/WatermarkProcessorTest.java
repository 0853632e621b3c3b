package dev.tally.plugins.watermark;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.engine.RowResult;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.engine.TokenLog;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.spi.Candidates;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

final class WatermarkProcessorTest {
  private static final ProcessorRegistry REGISTRY =
      ProcessorRegistry.fromServiceLoader(WatermarkProcessorTest.class.getClassLoader());

  private static SamplingContext context(int... history) {
    TokenLog log = TokenLog.of(new int[0], history);
    return new SamplingContext() {
      @Override
      public TokenHistory history() {
        return log;
      }

      @Override
      public long seed() {
        return 0;
      }

      @Override
      public double random(int stream) {
        return 0.5;
      }
    };
  }

  @Test
  void theGreenListHasFloorVGammaDistinctIdsAndBothFormsAgree() {
    Random random = new Random(3);
    for (int trial = 0; trial < 200; trial++) {
      int vocab = 1 + random.nextInt(3000);
      double gamma = 0.05 + 0.9 * random.nextDouble();
      long key = random.nextBoolean() ? WatermarkProcessor.DEFAULT_HASH_KEY : random.nextLong();
      int previous = random.nextInt(vocab);
      int size = GreenList.size(vocab, gamma);
      assertThat(size).isEqualTo((int) Math.floor(vocab * gamma));
      int[] perm = new int[vocab];
      GreenList.fill(perm, vocab, size, key, previous);
      Set<Integer> green = new HashSet<>();
      for (int i = 0; i < size; i++) {
        green.add(perm[i]);
      }
      assertThat(green).hasSize(size);
      for (int token = 0; token < vocab; token++) {
        assertThat(GreenList.isGreen(token, vocab, size, key, previous))
            .as("vocab %d gamma %f previous %d token %d", vocab, gamma, previous, token)
            .isEqualTo(green.contains(token));
      }
    }
  }

  @Test
  void theGreenListDependsOnThePreviousTokenAndTheKey() {
    int[] a = new int[1000];
    int[] b = new int[1000];
    GreenList.fill(a, 1000, 250, 15485863L, 7);
    GreenList.fill(b, 1000, 250, 15485863L, 8);
    assertThat(java.util.Arrays.copyOf(a, 250)).isNotEqualTo(java.util.Arrays.copyOf(b, 250));
    GreenList.fill(b, 1000, 250, 42L, 7);
    assertThat(java.util.Arrays.copyOf(a, 250)).isNotEqualTo(java.util.Arrays.copyOf(b, 250));
    GreenList.fill(b, 1000, 250, 15485863L, 7);
    assertThat(java.util.Arrays.copyOf(a, 250)).isEqualTo(java.util.Arrays.copyOf(b, 250));
  }

  @Test
  void addsDeltaToTheGreenTokensOnly() {
    int vocab = 64;
    Candidates c = Candidates.of(new float[vocab]);
    c.setLogit(5, Float.NEGATIVE_INFINITY);
    new WatermarkProcessor(0.25, 2f, 15485863L).apply(c, context(11, 3));
    int boosted = 0;
    for (int t = 0; t < vocab; t++) {
      boolean green = GreenList.isGreen(t, vocab, 16, 15485863L, 3);
      if (t == 5) {
        assertThat(c.logit(t)).isEqualTo(Float.NEGATIVE_INFINITY);
      } else {
        assertThat(c.logit(t)).as("token " + t).isEqualTo(green ? 2f : 0f);
      }
      boosted += c.logit(t) == 2f ? 1 : 0;
    }
    assertThat(boosted).isBetween(15, 16);
  }

  @Test
  void anEmptySequenceIsLeftAlone() {
    Candidates c = Candidates.of(new float[10]);
    new WatermarkProcessor(0.5, 2f, 1L).apply(c, context());
    for (int t = 0; t < 10; t++) {
      assertThat(c.logit(t)).isZero();
    }
  }

  /** The green fraction's z-score, as tally watermark-detect computes it. */
  private static double z(List<Integer> tokens, int vocab, double gamma) {
    int size = GreenList.size(vocab, gamma);
    int green = 0;
    for (int i = 1; i < tokens.size(); i++) {
      green += GreenList.isGreen(tokens.get(i), vocab, size, WatermarkProcessor.DEFAULT_HASH_KEY,
          tokens.get(i - 1)) ? 1 : 0;
    }
    int t = tokens.size() - 1;
    return (green - gamma * t) / Math.sqrt(t * gamma * (1 - gamma));
  }

  /** Generates 200 tokens from random rows through the engine, with or without the watermark. */
  private static List<Integer> generate(boolean watermark, long seed) {
    int vocab = 500;
    List<StageSpec> pipeline = watermark
        ? List.of(new StageSpec("watermark", Map.of()), StageSpec.of("draw"))
        : List.of(StageSpec.of("draw"));
    Chain chain = new ChainCompiler(REGISTRY, 20).compile(new SamplingConfig().pipeline(pipeline));
    TokenLog history = TokenLog.of(new int[] {1}, new int[0]);
    Random random = new Random(seed);
    RowSampler sampler = new RowSampler();
    for (int step = 0; step < 200; step++) {
      float[] logits = new float[vocab];
      for (int i = 0; i < vocab; i++) {
        logits[i] = (float) (1.5 * random.nextGaussian());
      }
      RowResult r = sampler.sample(LogitsTensor.ofFloats(1, vocab, logits), 0, chain, history,
          seed);
      history.append(r.tokenId());
    }
    List<Integer> out = new java.util.ArrayList<>();
    for (int i = 0; i < history.length(); i++) {
      out.add(history.token(i));
    }
    return out;
  }

  @Test
  void detectionSeparatesWatermarkedFromPlainText() {
    for (long seed = 1; seed <= 5; seed++) {
      assertThat(z(generate(true, seed), 500, 0.25)).as("watermarked, seed " + seed)
          .isGreaterThan(6);
      assertThat(Math.abs(z(generate(false, seed), 500, 0.25))).as("plain, seed " + seed)
          .isLessThan(3.5);
    }
  }
}
