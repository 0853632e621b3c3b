package dev.tally.core.processor;

import static dev.tally.core.processor.Anchors.create;
import static dev.tally.core.processor.Anchors.logitsAfter;
import static dev.tally.core.processor.Anchors.sequences;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.core.engine.TokenLog;
import dev.tally.spi.LogitsProcessor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@code sequence_bias}, {@code bad_words} and {@code no_repeat_ngram} against brute-force
 * references, over every history length from 0 to L + 2 and every position of a sequence's
 * prefix in it (#20: a prefix that is the whole history matches), histories split between prompt
 * and output at every point.
 */
final class SequenceRulesReferenceTest {
  private static final int V = 8;

  /** Whether {@code seq}'s prefix (all but its last id) ends {@code history}. */
  private static boolean prefixEnds(int[] seq, int[] history) {
    int prefix = seq.length - 1;
    if (prefix > history.length) {
      return false;
    }
    for (int j = 0; j < prefix; j++) {
      if (seq[j] != history[history.length - prefix + j]) {
        return false;
      }
    }
    return true;
  }

  /** Histories of every length 0..L+2 holding {@code seq}'s prefix at every position, and noise. */
  private static List<int[]> histories(int[] seq, SplittableRandom random) {
    List<int[]> out = new ArrayList<>();
    int prefix = seq.length - 1;
    for (int length = 0; length <= seq.length + 2; length++) {
      for (int at = 0; at + prefix <= length; at++) {
        int[] h = new int[length];
        for (int i = 0; i < length; i++) {
          h[i] = random.nextInt(V);
        }
        System.arraycopy(seq, 0, h, at, prefix);
        out.add(h);
      }
      int[] noise = new int[length];
      for (int i = 0; i < length; i++) {
        noise[i] = random.nextInt(V);
      }
      out.add(noise);
    }
    return out;
  }

  private static int[] randomSequence(SplittableRandom random) {
    int[] s = new int[1 + random.nextInt(4)];
    for (int i = 0; i < s.length; i++) {
      s[i] = random.nextInt(V);
    }
    return s;
  }

  /** Every split of {@code h} into prompt + output: the rules read the history as one. */
  private static List<TokenLog> splits(int[] h) {
    List<TokenLog> out = new ArrayList<>();
    for (int cut = 0; cut <= h.length; cut++) {
      out.add(TokenLog.of(Arrays.copyOfRange(h, 0, cut), Arrays.copyOfRange(h, cut, h.length)));
    }
    return out;
  }

  @Test
  void sequenceBiasAndBadWordsMatchTheReference() {
    SplittableRandom random = new SplittableRandom(20);
    int cases = 0;
    for (int trial = 0; trial < 300; trial++) {
      int[] a = randomSequence(random);
      int[] b = randomSequence(random);
      if (Arrays.equals(a, b)) {
        continue;
      }
      LogitsProcessor bias = create("sequence_bias", "sequences", sequences(a, b), "bias", 1.5);
      LogitsProcessor bad = create("bad_words", "sequences", sequences(a, b));
      for (int[] seq : new int[][] {a, b}) {
        for (int[] h : histories(seq, random)) {
          float[] expectedBias = new float[V];
          boolean[] banned = new boolean[V];
          for (int[] s : new int[][] {a, b}) {
            if (prefixEnds(s, h)) {
              expectedBias[s[s.length - 1]] += 1.5f;
              banned[s[s.length - 1]] = true;
            }
          }
          for (TokenLog history : splits(h)) {
            float[] biased = logitsAfter(history, new float[V], bias);
            float[] masked = logitsAfter(history, new float[V], bad);
            for (int t = 0; t < V; t++) {
              assertThat(biased[t]).as("sequence_bias %s %s after %s, token %d",
                  Arrays.toString(a), Arrays.toString(b), Arrays.toString(h), t)
                  .isEqualTo(expectedBias[t]);
              assertThat(masked[t]).as("bad_words %s %s after %s, token %d",
                  Arrays.toString(a), Arrays.toString(b), Arrays.toString(h), t)
                  .isEqualTo(banned[t] ? Float.NEGATIVE_INFINITY : 0f);
            }
            cases++;
          }
        }
      }
    }
    assertThat(cases).isGreaterThan(10_000);
  }

  @Test
  void noRepeatNgramMatchesTheReference() {
    SplittableRandom random = new SplittableRandom(21);
    int cases = 0;
    for (int n = 1; n <= 4; n++) {
      LogitsProcessor p = create("no_repeat_ngram", "ngram_size", (double) n);
      for (int trial = 0; trial < 200; trial++) {
        int[] ngram = new int[n];
        for (int i = 0; i < n; i++) {
          ngram[i] = random.nextInt(3); // a small alphabet: repeats are common
        }
        for (int[] h : histories(ngram, random)) {
          for (int i = 0; i < h.length; i++) {
            h[i] %= 3;
          }
          boolean[] banned = new boolean[V];
          int len = h.length;
          for (int i = 0; i + n <= len; i++) { // an earlier n-gram whose head ends the history
            boolean match = true;
            for (int j = 0; j < n - 1; j++) {
              match &= h[i + j] == h[len - (n - 1) + j];
            }
            if (match) {
              banned[h[i + n - 1]] = true;
            }
          }
          for (TokenLog history : splits(h)) {
            float[] out = logitsAfter(history, new float[V], p);
            for (int t = 0; t < V; t++) {
              assertThat(out[t]).as("no_repeat_ngram %d after %s, token %d", n,
                  Arrays.toString(h), t).isEqualTo(banned[t] ? Float.NEGATIVE_INFINITY : 0f);
            }
            cases++;
          }
        }
      }
    }
    assertThat(cases).isGreaterThan(5_000);
  }
}
