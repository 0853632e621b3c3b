package dev.tally.core.processor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.kernel.Kernels;
import dev.tally.spi.Candidates;
import dev.tally.spi.FastMath;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import dev.tally.spi.VocabKernels;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The seeded draw computes each term once (with SIMD while the list is the vocabulary) and gives
 * the token the two-pass loop of every earlier version gave, for the same logits and random number:
 * dense and compacted lists, masked tokens, terms that underflow, u at 0 and near 1, on the
 * scalar and the vector kernels.
 */
final class DrawSelectorTest {
  /** The draw before this change: each term computed twice, in list order. */
  private static int reference(Candidates c, double u) {
    float max = c.maxLogit();
    if (max == Float.NEGATIVE_INFINITY) {
      return -1;
    }
    double total = 0;
    for (int i = 0; i < c.size(); i++) {
      total += FastMath.expNonPositive(c.logit(c.id(i)) - max);
    }
    double target = u * total;
    double cumulative = 0;
    int last = -1;
    for (int i = 0; i < c.size(); i++) {
      int id = c.id(i);
      float l = c.logit(id);
      if (l == Float.NEGATIVE_INFINITY) {
        continue;
      }
      cumulative += FastMath.expNonPositive(l - max);
      last = id;
      if (cumulative > target) {
        return id;
      }
    }
    return last;
  }

  private static SamplingContext fixed(double u) {
    return new SamplingContext() {
      @Override
      public TokenHistory history() {
        throw new UnsupportedOperationException();
      }

      @Override
      public long seed() {
        return 0;
      }

      @Override
      public double random(int stream) {
        return u;
      }
    };
  }

  @Test
  void theSameTokenAsTheTwoPassDrawOnEveryKernel() {
    Random r = new Random(2026);
    Selectors.Draw draw = new Selectors.Draw();
    VocabKernels vector = Kernels.vector() != null ? Kernels.vector() : VocabKernels.SCALAR;
    int cases = 0;
    for (VocabKernels kernels : new VocabKernels[] {VocabKernels.SCALAR, vector}) {
      Candidates c = new Candidates(kernels);
      for (int k = 0; k < 3000; k++) {
        int vocab = 1 + r.nextInt(k % 10 == 0 ? 40_000 : 300);
        c.reset(vocab);
        float[] logits = c.logits();
        float scale = r.nextInt(4) == 0 ? 40f : 3f; // wide rows: far terms underflow to 0
        for (int i = 0; i < vocab; i++) {
          logits[i] = r.nextInt(8) == 0 ? Float.NEGATIVE_INFINITY
              : (float) (scale * r.nextGaussian());
        }
        if (r.nextBoolean()) {
          c.compact(); // a sparse list, as after truncation
        }
        double u = switch (k % 7) {
          case 0 -> 0.0;
          case 1 -> Math.nextDown(1.0);
          default -> r.nextDouble();
        };
        assertThat(draw.select(c, fixed(u))).as("case %d, vocab %d, u %s", k, vocab, u)
            .isEqualTo(reference(c, u));
        cases++;
      }
    }
    assertThat(cases).isEqualTo(6000);
  }
}
