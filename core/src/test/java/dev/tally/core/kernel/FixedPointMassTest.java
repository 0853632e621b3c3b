package dev.tally.core.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.spi.Candidates;
import dev.tally.spi.FastMath;
import dev.tally.spi.VocabKernels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Probability mass in fixed point ({@link Candidates#weight}): the vector kernels give the scalar
 * sums to the unit, and {@link Candidates#keepMass} keeps exactly the canonical prefix a plain
 * walk over the sorted row keeps, on both kernels, with ties, masked tokens and flat rows.
 */
final class FixedPointMassTest {
  private static final VocabKernels[] BOTH = {Kernels.scalar(), Kernels.vector()};

  private static float[] terms(float[] x, float max) {
    float[] t = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      t[i] = FastMath.expNonPositive(x[i] - max);
    }
    return t;
  }

  private static float[] row(Random r, int n, float scale) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) (scale * r.nextGaussian());
    }
    return x;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 7, 15, 16, 17, 63, 64, 65, 1023, 1024, 1025, 32000, 128256, 256000})
  void vectorWeightSumsAreTheScalarSumsToTheUnit(int n) {
    Random r = new Random(n);
    float[] x = row(r, n, 3f);
    x[r.nextInt(n)] = 12f;
    float[] t = terms(x, 12f);
    long reference = 0;
    for (float term : t) {
      reference += (long) Math.rint(term * 0x1p40);
    }
    assertThat(Kernels.scalar().weightSum(t, n)).isEqualTo(reference);
    assertThat(Kernels.vector().weightSum(t, n)).isEqualTo(reference);
    for (float threshold : new float[] {-100f, -3f, 0f, 2.5f, 12f, 13f}) {
      long above = 0;
      for (int i = 0; i < n; i++) {
        above += x[i] >= threshold ? (long) Math.rint(t[i] * 0x1p40) : 0;
      }
      assertThat(Kernels.vector().weightSumAtLeast(x, t, n, threshold)).as("t %s", threshold)
          .isEqualTo(above).isEqualTo(Kernels.scalar().weightSumAtLeast(x, t, n, threshold));
    }
    for (long target : new long[] {0, 1, reference / 3, reference / 2, reference - 1, reference}) {
      assertThat(Kernels.vector().weightIndexAbove(t, n, target)).as("target %s", target)
          .isEqualTo(Kernels.scalar().weightIndexAbove(t, n, target));
    }
  }

  @Test
  void everyTermFromZeroToOneWeighsItsTimesTwoToThe40RoundedHalfToEven() {
    // Ties: 2^-41 (0.5, to 0), 3 · 2^-41 (1.5, to 2), 2^-20 + 2^-41 (2^20 + 0.5, to 2^20).
    float[] t = {0f, Float.MIN_VALUE, 0x1p-41f, 0x1.8p-40f, 0x1p-40f, Math.nextDown(0x1p-40f),
        0.1f, Math.nextDown(1f), 1f, 0x1p-20f, 0x1p-20f + 0x1p-41f, Math.nextUp(0x1p-20f),
        0x1.fffffep-21f, 0.3f, 0.75f};
    float[] padded = Arrays.copyOf(t, 64); // the vector loop's body, not its scalar tail
    for (int i = 0; i < t.length; i++) {
      long expected = new java.math.BigDecimal(t[i]).multiply(java.math.BigDecimal.valueOf(1L << 40))
          .setScale(0, java.math.RoundingMode.HALF_EVEN).longValueExact();
      assertThat(Candidates.weight(t[i])).as("term %s", t[i]).isEqualTo(expected);
      float[] one = new float[64];
      one[i % 64] = t[i];
      assertThat(Kernels.vector().weightSum(one, 64)).as("term %s", t[i]).isEqualTo(expected);
    }
    assertThat(Kernels.vector().weightSum(padded, 64))
        .isEqualTo(Kernels.scalar().weightSum(padded, 64));
  }

  /** The rule, plainly: sort the candidates, walk their weights until the target. */
  private static int[] nucleus(float[] x, int[] list, double fraction) {
    List<Integer> ids = new ArrayList<>();
    for (int id : list) {
      if (x[id] != Float.NEGATIVE_INFINITY) {
        ids.add(id);
      }
    }
    ids.sort(Comparator.<Integer>comparingDouble(id -> 0.0 - x[id]).thenComparingInt(id -> id));
    float max = x[ids.get(0)];
    long total = 0;
    for (int id : ids) {
      total += Candidates.weight(FastMath.expNonPositive(x[id] - max));
    }
    long target = Math.min(total, Math.max(1, (long) Math.ceil(fraction * total)));
    long sum = 0;
    int kept = 0;
    while (sum < target) {
      sum += Candidates.weight(FastMath.expNonPositive(x[ids.get(kept)] - max));
      kept++;
    }
    return ids.subList(0, kept).stream().mapToInt(Integer::intValue).sorted().toArray();
  }

  private static int[] survivors(Candidates c) {
    int[] ids = new int[c.size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = c.id(i);
    }
    return ids;
  }

  @Test
  void keepMassKeepsTheCanonicalPrefixOnEveryKernel() {
    Random r = new Random(13);
    int cases = 0;
    for (VocabKernels kernels : BOTH) {
      Candidates c = new Candidates(kernels);
      for (int k = 0; k < 400; k++) {
        int vocab = 1 + r.nextInt(k % 8 == 0 ? 200_000 : 5_000);
        c.reset(vocab);
        float[] x = c.logits();
        int shape = k % 4;
        for (int i = 0; i < vocab; i++) {
          x[i] = switch (shape) {
            case 0 -> (float) (3 * r.nextGaussian());
            case 1 -> r.nextInt(6); // ties everywhere, the boundary inside a tie group
            case 2 -> (float) (0.01 * r.nextGaussian()); // flat
            default -> r.nextInt(10) == 0 ? Float.NEGATIVE_INFINITY : (float) (30 * r.nextGaussian());
          };
        }
        x[r.nextInt(vocab)] = 5f;
        boolean compacted = k % 5 == 4;
        if (compacted) {
          c.compact();
        }
        int[] list = survivors(c);
        float[] copy = Arrays.copyOf(x, vocab);
        double fraction = switch (k % 6) {
          case 0 -> 1e-9;
          case 1 -> 0.5;
          case 2 -> Math.nextDown(1.0);
          default -> r.nextDouble();
        };
        c.keepMass(fraction);
        int[] kept = survivors(c);
        if (!compacted) {
          assertThat(kept).as("ids ascend").isSorted();
        }
        Arrays.sort(kept);
        assertThat(kept).as("case %d, vocab %d, shape %d, fraction %s", k, vocab, shape, fraction)
            .isEqualTo(nucleus(copy, list, fraction));
        cases++;
      }
    }
    assertThat(cases).isEqualTo(800);
  }
}
