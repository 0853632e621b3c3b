package dev.tally.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

final class CandidatesTest {
  private static final float NEG_INF = Float.NEGATIVE_INFINITY;

  /** The candidate list as token ids, in list order, -inf entries included. */
  private static int[] list(Candidates c) {
    int[] out = new int[c.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = c.id(i);
    }
    return out;
  }

  /** Reference canonical order: logit descending (-0.0 == 0.0), then id ascending; -inf dropped. */
  private static int[] canonical(float[] logits, int[] ids) {
    List<Integer> kept = new ArrayList<>();
    for (int id : ids) {
      if (logits[id] != NEG_INF) {
        kept.add(id);
      }
    }
    // 0.0 - x folds -0.0 into 0.0, so signed zeros tie as the canonical order demands.
    kept.sort(Comparator.<Integer>comparingDouble(id -> 0.0 - logits[id])
        .thenComparingInt(id -> id));
    return kept.stream().mapToInt(Integer::intValue).toArray();
  }

  private static int[] range(int n) {
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i;
    }
    return ids;
  }

  @Test
  void startsDenseWithTheWholeVocabulary() {
    Candidates c = Candidates.of(1f, 2f, 3f);
    assertThat(c.vocabSize()).isEqualTo(3);
    assertThat(c.size()).isEqualTo(3);
    assertThat(c.isDense()).isTrue();
    assertThat(c.isSorted()).isFalse();
    assertThat(list(c)).containsExactly(0, 1, 2);
    assertThat(c.logit(2)).isEqualTo(3f);
  }

  @Test
  void keepTopKeepsExactlyKWithTiesToTheLowerId() {
    float[] logits = {1f, 3f, 3f, 2f, 3f, 0f};
    int[][] expected = {{1}, {1, 2}, {1, 2, 4}, {1, 2, 4, 3}, {1, 2, 4, 3, 0}};
    for (int k = 1; k <= expected.length; k++) {
      Candidates c = Candidates.of(logits);
      c.keepTop(k);
      assertThat(list(c)).as("k=%d", k).containsExactly(expected[k - 1]);
      assertThat(c.isSorted()).isTrue();
      assertThat(c.isDense()).isFalse();
    }
  }

  @Test
  void keepTopIgnoresNegativeInfinityAndKeepsFewerWhenFewerAreFinite() {
    Candidates c = Candidates.of(NEG_INF, 5f, NEG_INF, 4f);
    c.keepTop(3);
    assertThat(list(c)).containsExactly(1, 3);
    assertThat(c.count()).isEqualTo(2);
  }

  @Test
  void keepTopRejectsNonPositiveK() {
    Candidates c = Candidates.of(1f, 2f);
    assertThatThrownBy(() -> c.keepTop(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> c.keepTop(-1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void keepTopMatchesAFullSortOnRandomRowsWithManyTies() {
    for (int seed = 0; seed < 300; seed++) {
      Random rnd = new Random(seed);
      int n = 1 + rnd.nextInt(400);
      float[] logits = new float[n];
      for (int i = 0; i < n; i++) {
        // Few distinct values, negatives, signed zeros and -inf: ties everywhere.
        int kind = rnd.nextInt(10);
        logits[i] = kind == 0 ? NEG_INF : kind == 1 ? -0.0f : (rnd.nextInt(9) - 4) * 0.5f;
      }
      int[] reference = canonical(logits, range(n));
      int k = 1 + rnd.nextInt(n + 2);
      Candidates c = Candidates.of(logits);
      c.keepTop(k);
      int expectedSize = Math.min(k, reference.length);
      assertThat(list(c)).as("seed %d, n=%d, k=%d", seed, n, k)
          .containsExactly(java.util.Arrays.copyOf(reference, expectedSize));
    }
  }

  /** Small k over a long list takes the bounded-heap path; it must agree with the full sort. */
  @Test
  void keepTopWithSmallKOnLongRowsMatchesAFullSort() {
    for (int seed = 0; seed < 100; seed++) {
      Random rnd = new Random(seed);
      int n = 2000 + rnd.nextInt(6000);
      float[] logits = new float[n];
      for (int i = 0; i < n; i++) {
        int kind = rnd.nextInt(20);
        logits[i] = kind == 0 ? NEG_INF : kind == 1 ? -0.0f : kind == 2 ? 0.0f
            : (float) Math.round(rnd.nextGaussian() * 8) / 4f;
      }
      int[] reference = canonical(logits, range(n));
      int k = 1 + rnd.nextInt(64);
      Candidates c = Candidates.of(logits);
      if (seed % 2 == 1) {
        c.truncate(n); // a materialised, non-dense list
      }
      c.keepTop(k);
      assertThat(list(c)).as("seed %d, n=%d, k=%d", seed, n, k)
          .containsExactly(java.util.Arrays.copyOf(reference, k));
      assertThat(c.isSorted()).isTrue();
    }
  }

  @Test
  void keepTopOnANonDenseListOnlyConsidersListedTokens() {
    Candidates c = Candidates.of(9f, 1f, 8f, 2f, 7f);
    c.retain(new int[] {1, 3, 4}, 3, false);
    c.keepTop(2);
    assertThat(list(c)).containsExactly(4, 3);
  }

  @Test
  void sortPutsSignedZerosTogetherAndBreaksTheTieById() {
    Candidates c = Candidates.of(-0.0f, 0.0f, -0.0f, 1f, NEG_INF, -1f, 0.0f);
    c.sort();
    assertThat(list(c)).containsExactly(3, 0, 1, 2, 6, 5);
    assertThat(c.isSorted()).isTrue();
  }

  @Test
  void sortOrdersTheWholeFloatRange() {
    float[] logits = {-Float.MAX_VALUE, Float.MAX_VALUE, -Float.MIN_VALUE, Float.MIN_VALUE, -1.5f,
        -0.5f, 0.5f, 1e-30f, -1e30f, NEG_INF, 100f, -100f, Float.MIN_NORMAL, -Float.MIN_NORMAL};
    Candidates c = Candidates.of(logits);
    c.sort();
    assertThat(list(c)).containsExactly(1, 10, 6, 7, 12, 3, 2, 13, 5, 4, 11, 8, 0);
    assertThat(list(c)).containsExactly(canonical(logits, range(logits.length)));
  }

  @Test
  void sortMatchesTheReferenceOnRandomRows() {
    for (int seed = 0; seed < 100; seed++) {
      Random rnd = new Random(1000 + seed);
      int n = 1 + rnd.nextInt(1000);
      float[] logits = new float[n];
      for (int i = 0; i < n; i++) {
        logits[i] = rnd.nextInt(20) == 0 ? NEG_INF : (float) (rnd.nextGaussian() * 3);
      }
      Candidates c = Candidates.of(logits);
      c.sort();
      assertThat(list(c)).as("seed %d", seed).containsExactly(canonical(logits, range(n)));
    }
  }

  @Test
  void sortIsSkippedWhenAlreadySortedAndRedoneAfterSetLogit() {
    Candidates c = Candidates.of(1f, 2f, 3f);
    c.sort();
    assertThat(list(c)).containsExactly(2, 1, 0);
    c.setLogit(0, 10f);
    assertThat(c.isSorted()).isFalse();
    c.sort();
    assertThat(list(c)).containsExactly(0, 2, 1);
    c.remove(2);
    assertThat(c.isSorted()).isFalse();
    c.sort();
    assertThat(list(c)).containsExactly(0, 1);
  }

  @Test
  void orderPreservedOnlyKeepsAnExistingSortedState() {
    Candidates c = Candidates.of(1f, 2f);
    c.orderPreserved(true);
    assertThat(c.isSorted()).isFalse();
    c.sort();
    c.orderPreserved(true);
    assertThat(c.isSorted()).isTrue();
    c.orderPreserved(false);
    assertThat(c.isSorted()).isFalse();
  }

  @Test
  void retainAtLeastKeepsListOrderAndIsInclusive() {
    Candidates c = Candidates.of(3f, 1f, 2f, NEG_INF, 2f, 0.5f);
    c.retainAtLeast(2f);
    assertThat(list(c)).containsExactly(0, 2, 4);
    assertThat(c.isDense()).isFalse();

    Candidates sorted = Candidates.of(3f, 1f, 2f, NEG_INF, 2f, 0.5f);
    sorted.sort();
    sorted.retainAtLeast(1f);
    assertThat(list(sorted)).containsExactly(0, 2, 4, 1);
    assertThat(sorted.isSorted()).isTrue();
  }

  @Test
  void retainAtLeastWithNanKeepsNothingAndMinusInfinityKeepsEverything() {
    Candidates c = Candidates.of(3f, 1f, 2f);
    c.retainAtLeast(Float.NaN);
    assertThat(c.size()).isZero();
    assertThat(c.count()).isZero();
    assertThat(c.maxLogit()).isEqualTo(NEG_INF);

    Candidates all = Candidates.of(3f, NEG_INF, 2f);
    all.retainAtLeast(NEG_INF);
    assertThat(list(all)).containsExactly(0, 1, 2);
  }

  @Test
  void compactDropsNegativeInfinityAndMaterialisesTheList() {
    Candidates c = Candidates.of(NEG_INF, 1f, NEG_INF, 2f, 0f);
    c.compact();
    assertThat(c.isDense()).isFalse();
    assertThat(list(c)).containsExactly(1, 3, 4);
    c.remove(3);
    c.compact();
    assertThat(list(c)).containsExactly(1, 4);
  }

  @Test
  void truncateKeepsAPrefix() {
    Candidates dense = Candidates.of(1f, 2f, 3f, 4f);
    dense.truncate(2);
    assertThat(dense.isDense()).isFalse();
    assertThat(list(dense)).containsExactly(0, 1);

    Candidates sorted = Candidates.of(1f, 2f, 3f, 4f);
    sorted.sort();
    sorted.truncate(3);
    assertThat(list(sorted)).containsExactly(3, 2, 1);
    sorted.truncate(0);
    assertThat(sorted.size()).isZero();

    Candidates c = Candidates.of(1f, 2f);
    assertThatThrownBy(() -> c.truncate(3)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> c.truncate(-1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void retainReplacesTheListAndTakesTheSortedFlag() {
    Candidates c = Candidates.of(1f, 2f, 3f, 4f);
    int[] ids = {3, 1, 99};
    c.retain(ids, 2, true);
    assertThat(list(c)).containsExactly(3, 1);
    assertThat(c.isSorted()).isTrue();
    assertThat(c.maxLogit()).isEqualTo(4f);
    ids[0] = 0; // the list was copied
    assertThat(c.id(0)).isEqualTo(3);

    c.retain(new int[] {2}, 1, false);
    assertThat(c.isSorted()).isFalse();
    assertThatThrownBy(() -> c.retain(new int[5], 5, false))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void countAndMaxLogitSkipNegativeInfinity() {
    Candidates c = Candidates.of(NEG_INF, -3f, NEG_INF, -7f);
    assertThat(c.count()).isEqualTo(2);
    assertThat(c.maxLogit()).isEqualTo(-3f);
    c.retain(new int[] {0, 2, 3}, 3, false);
    assertThat(c.count()).isEqualTo(1);
    assertThat(c.maxLogit()).isEqualTo(-7f);
    c.remove(3);
    assertThat(c.count()).isZero();
    assertThat(c.maxLogit()).isEqualTo(NEG_INF);
    assertThat(c.logSumExp()).isEqualTo(Double.NEGATIVE_INFINITY);
  }

  @Test
  void logSumExpMatchesADoubleReference() {
    for (int seed = 0; seed < 50; seed++) {
      Random rnd = new Random(seed);
      int n = 1 + rnd.nextInt(5000);
      float[] logits = new float[n];
      for (int i = 0; i < n; i++) {
        logits[i] = rnd.nextInt(10) == 0 ? NEG_INF : (float) (rnd.nextGaussian() * 10 + 50);
      }
      if (logits[0] == NEG_INF) {
        logits[0] = 1f;
      }
      // Reference: ascending-sorted terms, pairwise-safe log(Σ exp) via log1p accumulation.
      double[] finite = java.util.stream.IntStream.range(0, n).filter(i -> logits[i] != NEG_INF)
          .mapToDouble(i -> logits[i]).sorted().toArray();
      double ref = finite[0];
      for (int i = 1; i < finite.length; i++) {
        double a = Math.max(ref, finite[i]);
        double b = Math.min(ref, finite[i]);
        ref = a + Math.log1p(Math.exp(b - a));
      }
      Candidates c = Candidates.of(logits);
      // FastMath's exp is within 2e-7 relative per term, so the log-sum-exp within ~2e-7.
      assertThat(c.logSumExp()).as("seed %d", seed).isCloseTo(ref, within(1e-6));
      c.keepTop(Math.max(1, n / 3));
      double top = 0;
      double max = c.maxLogit();
      for (int i = 0; i < c.size(); i++) {
        top += Math.exp(c.logit(c.id(i)) - max);
      }
      assertThat(c.logSumExp()).isCloseTo(max + Math.log(top), within(1e-6));
    }
  }

  @Test
  void logSumExpDoesNotOverflowForLargeLogits() {
    Candidates c = Candidates.of(1000f, 1000f, NEG_INF);
    assertThat(c.logSumExp()).isCloseTo(1000 + Math.log(2), within(1e-9));
    Candidates tiny = Candidates.of(-1000f);
    assertThat(tiny.logSumExp()).isEqualTo(-1000.0);
  }

  @Test
  void resetReusesArraysForASmallerRow() {
    Candidates c = Candidates.of(5f, 4f, 3f, 2f, 1f);
    c.keepTop(2);
    c.reset(3);
    c.logits()[0] = 1f;
    c.logits()[1] = 2f;
    c.logits()[2] = 0f;
    assertThat(c.isDense()).isTrue();
    assertThat(c.isSorted()).isFalse();
    assertThat(c.size()).isEqualTo(3);
    assertThat(c.count()).isEqualTo(3);
    assertThat(c.maxLogit()).isEqualTo(2f);
    c.sort();
    assertThat(list(c)).containsExactly(1, 0, 2);
  }

  @Test
  void scratchArraysAreAtLeastTheRequestedSize() {
    Candidates c = Candidates.of(new float[10]);
    assertThat(c.scratchInts(3).length).isGreaterThanOrEqualTo(10);
    assertThat(c.scratchInts(25).length).isGreaterThanOrEqualTo(25);
    assertThat(c.scratchFloats(11).length).isGreaterThanOrEqualTo(11);
    assertThat(c.scratchLongs(12).length).isGreaterThanOrEqualTo(12);
    assertThat(c.scratchInts(5)).isSameAs(c.scratchInts(25));
  }

  /** Known statistics serve the first stage, and are forgotten at the first change. */
  @org.junit.jupiter.api.Test
  void knownStatisticsLastUntilTheFirstChange() {
    Candidates c = Candidates.of(1f, 3f, 2f);
    c.knownStatistics(10f, Math.E, 0); // deliberately not the real ones, to see which are served
    org.assertj.core.api.Assertions.assertThat(c.maxLogit()).isEqualTo(10f);
    org.assertj.core.api.Assertions.assertThat(c.argmax()).isEqualTo(0);
    org.assertj.core.api.Assertions.assertThat(c.logSumExp()).isEqualTo(11.0);
    c.setLogit(0, 0f);
    org.assertj.core.api.Assertions.assertThat(c.maxLogit()).isEqualTo(3f);
    org.assertj.core.api.Assertions.assertThat(c.argmax()).isEqualTo(1);

    for (java.util.function.Consumer<Candidates> change : java.util.List.<java.util.function.Consumer<Candidates>>of(
        x -> x.logits(), x -> x.remove(1), x -> x.compact(), x -> x.retainAtLeast(0f),
        x -> x.keepTop(2), x -> x.truncate(3), x -> x.retain(new int[] {0, 1}, 2, false))) {
      Candidates d = Candidates.of(1f, 3f, 2f);
      d.knownStatistics(10f, Math.E, 0);
      change.accept(d);
      org.assertj.core.api.Assertions.assertThat(d.maxLogit()).isLessThanOrEqualTo(3f);
    }
    Candidates e = Candidates.of(1f, 3f, 2f);
    e.knownStatistics(10f, Math.E, 0);
    e.reset(3);
    org.assertj.core.api.Assertions.assertThat(e.maxLogit()).isLessThan(10f);
  }

  /**
   * Large lists still in id order sort by radix: the result must be the canonical order exactly
   * (ties to the lower id, -0 tied with +0), as the comparison sort gives it.
   */
  @org.junit.jupiter.api.Test
  void radixSortedListsAreInCanonicalOrder() {
    java.util.Random r = new java.util.Random(8);
    for (int trial = 0; trial < 20; trial++) {
      int n = 300 + r.nextInt(20_000);
      float[] logits = new float[n];
      for (int i = 0; i < n; i++) {
        // few distinct values, wide ranges, signed zeros and -inf: ties and long digit spans
        logits[i] = switch (r.nextInt(6)) {
          case 0 -> r.nextInt(5) - 2f;
          case 1 -> r.nextBoolean() ? 0f : -0f;
          case 2 -> Float.NEGATIVE_INFINITY;
          case 3 -> (float) (1e30 * r.nextGaussian());
          default -> (float) (3 * r.nextGaussian());
        };
      }
      Candidates c = Candidates.of(logits);
      if (trial % 2 == 1) {
        c.retainAtLeast(-1f); // filtered from a dense list: ids still ascend
      }
      java.util.List<Integer> expected = new java.util.ArrayList<>();
      for (int i = 0; i < c.size(); i++) {
        if (logits[c.id(i)] != Float.NEGATIVE_INFINITY) {
          expected.add(c.id(i));
        }
      }
      expected.sort((a, b) -> {
        float la = logits[a] + 0f;
        float lb = logits[b] + 0f;
        return la != lb ? Float.compare(lb, la) : Integer.compare(a, b);
      });
      c.sort();
      int[] actual = new int[c.size()];
      for (int i = 0; i < actual.length; i++) {
        actual[i] = c.id(i);
      }
      org.assertj.core.api.Assertions.assertThat(actual).as("trial %d", trial)
          .containsExactly(expected.stream().mapToInt(Integer::intValue).toArray());
    }
  }

  @org.junit.jupiter.api.Test
  void retainAtLeastNaNKeepsNothingDenseOrNot() {
    Candidates c = Candidates.of(1f, 2f, 3f);
    c.retainAtLeast(Float.NaN);
    org.assertj.core.api.Assertions.assertThat(c.size()).isZero();
    Candidates d = Candidates.of(1f, 2f, 3f);
    d.retainAtLeast(2f);
    org.assertj.core.api.Assertions.assertThat(d.size()).isEqualTo(2);
    d.retainAtLeast(Float.NaN);
    org.assertj.core.api.Assertions.assertThat(d.size()).isZero();
  }

  /**
   * A borrowed row is read in place; single-token writes go into it and restoreShared() undoes
   * them (a token written twice gets its first value back); a bulk write copies it first.
   */
  @org.junit.jupiter.api.Test
  void borrowedLogitsAreRestoredExactly() {
    float[] source = {1f, 3f, 2f, 0f, -0f};
    Candidates c = new Candidates();
    c.resetShared(source, 5);
    c.retainAtLeast(1f); // list changes only
    c.sort();
    org.assertj.core.api.Assertions.assertThat(c.id(0)).isEqualTo(1);
    c.setLogit(1, -5f);
    c.setLogit(1, 7f);
    c.remove(2);
    c.setLogit(4, 1f);
    org.assertj.core.api.Assertions.assertThat(c.logit(1)).isEqualTo(7f);
    org.assertj.core.api.Assertions.assertThat(c.logit(2)).isEqualTo(Float.NEGATIVE_INFINITY);
    c.restoreShared();
    org.assertj.core.api.Assertions.assertThat(source).containsExactly(1f, 3f, 2f, 0f, -0f);
    org.assertj.core.api.Assertions.assertThat(Float.floatToRawIntBits(source[4]))
        .isEqualTo(Float.floatToRawIntBits(-0f));

    Candidates d = new Candidates();
    d.resetShared(source, 5);
    d.setLogit(0, 4f); // in place, then a bulk write moves to the own array
    float[] writable = d.logits();
    org.assertj.core.api.Assertions.assertThat(writable).isNotSameAs(source);
    writable[1] = 9f;
    org.assertj.core.api.Assertions.assertThat(d.logit(0)).isEqualTo(4f);
    org.assertj.core.api.Assertions.assertThat(d.logit(1)).isEqualTo(9f);
    d.restoreShared();
    org.assertj.core.api.Assertions.assertThat(source).containsExactly(1f, 3f, 2f, 0f, -0f);
    d.reset(5); // a plain reset owns its array again
    org.assertj.core.api.Assertions.assertThat(d.logits()).isNotSameAs(source);
  }

  /** More single writes than the undo log holds: the row moves to the own array, still exact. */
  @org.junit.jupiter.api.Test
  void manyWritesToABorrowedRowStillRestoreIt() {
    int n = 20_000;
    float[] source = new float[n];
    for (int i = 0; i < n; i++) {
      source[i] = i * 0.5f;
    }
    float[] before = source.clone();
    Candidates c = new Candidates();
    c.resetShared(source, n);
    for (int i = 0; i < n; i++) {
      c.setLogit(i, -i);
    }
    for (int i = 0; i < n; i++) {
      org.assertj.core.api.Assertions.assertThat(c.logit(i)).isEqualTo((float) -i);
    }
    c.restoreShared();
    org.assertj.core.api.Assertions.assertThat(source).containsExactly(before);
  }

  /** orderPreserved(true) after order-keeping setLogit writes keeps a sorted list sorted. */
  @org.junit.jupiter.api.Test
  void orderPreservingWritesKeepTheListSorted() {
    Candidates c = Candidates.of(1f, 3f, 2f, 0f);
    c.keepTop(3);
    org.assertj.core.api.Assertions.assertThat(c.isSorted()).isTrue();
    for (int i = 0; i < c.size(); i++) {
      c.setLogit(c.id(i), c.logit(c.id(i)) / 2);
    }
    org.assertj.core.api.Assertions.assertThat(c.isSorted()).isFalse();
    c.orderPreserved(true);
    org.assertj.core.api.Assertions.assertThat(c.isSorted()).isTrue();
    c.remove(c.id(0)); // a removal is never order-preserving
    c.orderPreserved(true);
    org.assertj.core.api.Assertions.assertThat(c.isSorted()).isFalse();
  }

  /** Known terms are served through list changes and forgotten at the first logit write. */
  @org.junit.jupiter.api.Test
  void knownTermsLastUntilALogitChanges() {
    float[] fake = {0.5f, 0.25f, 0.125f, 0.0625f}; // not the real terms, to see which are served
    Candidates c = Candidates.of(0f, 0f, 0f, 0f);
    c.knownTerms(fake, 0f);
    float[] out = new float[4];
    c.expInto(0f, out);
    org.assertj.core.api.Assertions.assertThat(out).containsExactly(fake);
    org.assertj.core.api.Assertions.assertThat(c.massAtLeast(-1f, 0f)).isEqualTo(0.9375);
    c.retain(new int[] {2, 0}, 2, false);
    c.expInto(0f, out);
    org.assertj.core.api.Assertions.assertThat(out[0]).isEqualTo(0.125f);
    org.assertj.core.api.Assertions.assertThat(out[1]).isEqualTo(0.5f);
    org.assertj.core.api.Assertions.assertThat(c.logSumExp()).isEqualTo(Math.log(0.625));
    c.expInto(1f, out); // another max: computed
    org.assertj.core.api.Assertions.assertThat(out[0]).isEqualTo(FastMath.expNonPositive(-1f));
    c.setLogit(0, 0f);
    c.expInto(0f, out);
    org.assertj.core.api.Assertions.assertThat(out[0]).isEqualTo(1f);
    org.assertj.core.api.Assertions.assertThat(out[1]).isEqualTo(1f);
  }

  /**
   * keepTop from the engine's raw top list (knownTop) plus the tokens written since gives exactly
   * the full sort's answer, whether the list holds it (a few writes) or not (writes that raise
   * tokens from below the list, a list shorter than k, more writes than the undo log holds).
   */
  @Test
  void keepTopFromAKnownRawTopListMatchesAFullSort() {
    for (int seed = 0; seed < 300; seed++) {
      Random rnd = new Random(seed);
      int n = 2000 + rnd.nextInt(6000);
      float[] source = new float[n];
      for (int i = 0; i < n; i++) {
        int kind = rnd.nextInt(20);
        source[i] = kind == 0 ? NEG_INF : kind == 1 ? -0.0f
            : (float) Math.round(rnd.nextGaussian() * 8) / 4f;
      }
      float[] before = source.clone();
      int k = 1 + rnd.nextInt(64);
      int listed = seed % 10 == 0 ? Math.max(1, k - 1) : k + rnd.nextInt(32);
      TopKeys top = new TopKeys();
      top.start(listed);
      for (int i = 0; i < n; i++) {
        top.offer(source[i], i);
      }
      int count = top.finish();
      Candidates c = new Candidates();
      c.resetShared(source, n);
      c.knownTop(top.keys(), count, count < listed);
      int writes = seed % 50 == 7 ? 5000 : rnd.nextInt(80);
      for (int w = 0; w < writes; w++) {
        int id = w < count && rnd.nextBoolean() ? TopKeys.id(top.keys()[w]) : rnd.nextInt(n);
        switch (rnd.nextInt(4)) {
          case 0 -> c.remove(id);
          case 1 -> c.setLogit(id, c.logit(id) + 3f); // may climb past the list's last
          default -> c.setLogit(id, c.logit(id) == NEG_INF ? NEG_INF : c.logit(id) - 1.5f);
        }
      }
      float[] current = new float[n];
      for (int i = 0; i < n; i++) {
        current[i] = c.logit(i);
      }
      int[] reference = canonical(current, range(n));
      c.keepTop(k);
      assertThat(list(c)).as("seed %d, n=%d, k=%d, listed=%d, writes=%d", seed, n, k, listed,
          writes).containsExactly(java.util.Arrays.copyOf(reference, Math.min(k, reference.length)));
      assertThat(c.isSorted()).isTrue();
      c.restoreShared();
      assertThat(source).containsExactly(before);
    }
  }

  /** The list is used, not merely checked: a list that (falsely) omits the best token is trusted. */
  @Test
  void keepTopTrustsTheKnownTopListWhenItProvablyHoldsTheAnswer() {
    float[] source = new float[1000];
    for (int i = 0; i < source.length; i++) {
      source[i] = i % 7;
    }
    source[500] = 100f;
    TopKeys top = new TopKeys();
    top.start(4);
    for (int i = 0; i < 10; i++) { // tokens 0..9 only: 500 never offered
      top.offer(source[i], i);
    }
    int count = top.finish();
    Candidates c = new Candidates();
    c.resetShared(source, source.length);
    c.knownTop(top.keys(), count, false);
    c.keepTop(2);
    assertThat(list(c)).containsExactly(6, 5);
    c.restoreShared();

    c.resetShared(source, source.length);
    c.keepTop(2); // no list: the pass over the row finds 500
    assertThat(list(c)).containsExactly(500, 6);
    c.restoreShared();
  }
}
