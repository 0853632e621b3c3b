package dev.tally.core.engine;

import dev.tally.core.kernel.Kernels;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.spi.TopKeys;

/**
 * The first pass over a row: decodes it a cache-sized chunk at a time and, while each chunk is
 * still in L1, checks it (NaN, +Inf), takes its max and offers its best tokens to the raw top
 * list. One pass over memory instead of three (decode, check, top list): the raw logprobs' top-N
 * and the chosen token's rank are then read off the list, and only the Σexp pass is left.
 */
final class RowScan {
  // 8 KiB of float32 (plus 4 KiB of 16-bit source): well inside L1 beside the loops' state.
  private static final int CHUNK = 2048;

  private final Kernels kernels;
  private final short[] halves = new short[CHUNK]; // a 16-bit chunk on its way to float32
  private final TopKeys top = new TopKeys();
  private int topCount;
  private int keep;

  RowScan(Kernels kernels) {
    this.kernels = kernels;
  }

  /**
   * Decodes row {@code row} into {@code raw[0, vocab)} and keeps its {@code keep} best tokens.
   *
   * @return the row's max, or NaN when it holds a NaN or +Inf (the top list is then undefined)
   */
  float scan(LogitsTensor logits, int row, float[] raw, int keep) {
    int vocab = logits.vocabSize();
    float max = Float.NEGATIVE_INFINITY;
    boolean bad = false;
    this.keep = keep;
    top.start(keep);
    float bound = Float.NEGATIVE_INFINITY;
    for (int from = 0; from < vocab; from += CHUNK) {
      int to = Math.min(vocab, from + CHUNK);
      logits.decodeRange(row, from, to, raw, halves, kernels);
      float chunkMax = kernels.maxOrNaN(raw, from, to);
      if (chunkMax != chunkMax) {
        bad = true;
        continue;
      }
      max = Math.max(max, chunkMax);
      if (from == 0) {
        bound = heldByAtLeast(raw, to, keep, chunkMax);
      }
      float floor = Math.max(bound, top.floor());
      if (chunkMax >= floor) { // most chunks hold nothing for the list once it is full
        for (int i = kernels.nextAtLeast(raw, from, to, floor); i < to;
            i = kernels.nextAtLeast(raw, i + 1, to, Math.max(bound, top.floor()))) {
          top.offer(raw[i], i);
        }
      }
    }
    topCount = bad ? 0 : top.finish();
    return bad ? Float.NaN : max;
  }

  // The first chunk would otherwise enter the list whole (its floor starts at -inf), costing a
  // dozen selections; a bound that k of its tokens reach (a few vector counts) lets in about k.
  private static final int BOUND_STEPS = 12;
  private static final float BOUND_RANGE = 64f;

  /**
   * A logit that at least {@code keep} of {@code x[0, n)} reach, found by bisection below {@code
   * max}: nothing under it can be among the row's best {@code keep}. {@code -Infinity} when no
   * such bound is within reach (fewer than {@code keep} tokens in range).
   */
  private float heldByAtLeast(float[] x, int n, int keep, float max) {
    if (n < 2 * keep || max == Float.NEGATIVE_INFINITY) {
      return Float.NEGATIVE_INFINITY;
    }
    float low = max - BOUND_RANGE;
    if (kernels.countAtLeast(x, n, low) < keep) {
      return Float.NEGATIVE_INFINITY;
    }
    float high = max;
    for (int step = 0; step < BOUND_STEPS; step++) {
      float mid = (low + high) / 2;
      if (kernels.countAtLeast(x, n, mid) >= keep) {
        low = mid;
      } else {
        high = mid;
      }
    }
    return low;
  }

  /** How many tokens the last scan was asked to keep. */
  int keep() {
    return keep;
  }

  /** How many tokens the top list holds: {@code keep}, or every finite token if fewer. */
  int topCount() {
    return topCount;
  }

  /** The top list's canonical keys ({@link TopKeys#key}), best first: {@code [0, topCount())}. */
  long[] topKeys() {
    return top.keys();
  }
}
