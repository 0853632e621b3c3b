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
 * The seeded draw is inverse-CDF sampling in fixed point ({@link Candidates#pick}): each candidate
 * weighs {@code rint(exp(logit − max) · 2^40)}, and the token chosen for u is the first in list
 * order whose running weight exceeds {@code floor(u · total)}. Checked against a plain loop on
 * dense and compacted lists, masked tokens, terms that underflow, u at 0 and near 1, on the scalar
 * and the vector kernels; and the shares of u are the weights, to the last unit.
 */
final class DrawSelectorTest {
  /** rint(term · 2^40), half to even, in exact decimal arithmetic. */
  private static long weight(float term) {
    return new java.math.BigDecimal(term).multiply(java.math.BigDecimal.valueOf(1L << 40))
        .setScale(0, java.math.RoundingMode.HALF_EVEN).longValueExact();
  }

  /** The rule, one token at a time. */
  private static int reference(Candidates c, double u) {
    float max = c.maxLogit();
    if (max == Float.NEGATIVE_INFINITY) {
      return -1;
    }
    long total = 0;
    for (int i = 0; i < c.size(); i++) {
      total += weight(FastMath.expNonPositive(c.logit(c.id(i)) - max));
    }
    long target = Math.min(total - 1, (long) (u * total));
    long cumulative = 0;
    for (int i = 0; i < c.size(); i++) {
      cumulative += weight(FastMath.expNonPositive(c.logit(c.id(i)) - max));
      if (cumulative > target) {
        return c.id(i);
      }
    }
    throw new AssertionError("the running weight never passed the target");
  }

  static SamplingContext fixed(double u) {
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
  void theRuleOnEveryKernel() {
    Random r = new Random(2026);
    Selectors.Draw draw = new Selectors.Draw();
    int cases = 0;
    for (VocabKernels kernels : new VocabKernels[] {VocabKernels.SCALAR, Kernels.vector()}) {
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
        logits[r.nextInt(vocab)] = 1f; // at least one candidate
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

  /** A logit whose term is exactly {@code term}, found within a few ulps of its log. */
  private static float logitOfTerm(float term) {
    float x = (float) Math.log(term);
    for (int ulps = 0; ulps < 64 && FastMath.expNonPositive(x) != term; ulps++) {
      x = FastMath.expNonPositive(x) < term ? Math.nextUp(x) : Math.nextDown(x);
    }
    assertThat(FastMath.expNonPositive(x)).isEqualTo(term);
    return x;
  }

  @Test
  void eachTokenGetsExactlyItsWeightsShareOfU() {
    // Terms 1, 1/2, 1/4, 1/4: weights 2^40, 2^39, 2^38, 2^38 of a total 2^41, so every boundary
    // u = weight / total is a double exactly, and the draw must split u there to the last unit.
    float half = logitOfTerm(0.5f);
    float quarter = logitOfTerm(0.25f);
    Candidates c = Candidates.of(0f, half, quarter, quarter);
    long[] weights = {1L << 40, 1L << 39, 1L << 38, 1L << 38};
    double total = 0x1p41;
    Selectors.Draw draw = new Selectors.Draw();
    long start = 0;
    for (int i = 0; i < 4; i++) {
      assertThat(Candidates.weight(FastMath.expNonPositive(c.logit(i)))).isEqualTo(weights[i]);
      long end = start + weights[i];
      assertThat(draw.select(c, fixed(start / total))).as("u at token %d's start", i).isEqualTo(i);
      assertThat(draw.select(c, fixed((end - 1) / total))).as("u at token %d's last unit", i)
          .isEqualTo(i);
      start = end;
    }
  }
}
