package dev.tally.spi;

import java.util.Arrays;

/**
 * The candidate tokens of one row while a chain runs: the logits, and which tokens are still in.
 *
 * <p>Two views share the work:
 *
 * <ul>
 *   <li>the <b>logits</b>, indexed by token id ({@link #logits()}, {@link #logit}, {@link
 *       #setLogit}): a stage that biases or bans known ids writes here in O(1), whatever was
 *       truncated before it;
 *   <li>the <b>candidate list</b>, positions {@code 0..size()} ({@link #id(int)}): the tokens still
 *       in play, in list order. At first the list is the whole vocabulary ({@link #isDense()}),
 *       without being materialised; truncations shrink it, and once {@link #isSorted() sorted} it
 *       is in the canonical order: logit descending, then token id ascending.
 * </ul>
 *
 * A token is a candidate when it is in the list <em>and</em> its logit is not {@code -Infinity}:
 * setting a logit to {@code -Infinity} removes the token. Stages that loop over candidates skip
 * such entries, or call {@link #compact()} first.
 *
 * <p>One instance is reused for every row a sampler thread works on, so its arrays are sized for
 * the largest vocabulary seen; never keep a reference past {@code apply}. The scratch arrays
 * ({@link #scratchInts} …) let stages work without allocating.
 */
public final class Candidates {
  private static final int[] NO_INTS = new int[0];
  private static final float[] NO_FLOATS = new float[0];
  private static final long[] NO_LONGS = new long[0];

  private final VocabKernels kernels;
  private float[] logits = NO_FLOATS;
  // The candidates' own array. While the row's logits are borrowed (resetShared), logits points at
  // the caller's array instead: single-token writes go there, logged so that restoreShared() can
  // undo them, and only a bulk write (logits()) or a long log copies the row here. Chains that
  // read, or write a few tokens (penalties, biases, a temperature after top-k), never copy it.
  private float[] own = NO_FLOATS;
  private float[] borrowed;
  private int[] undoIds = NO_INTS;
  private float[] undoValues = NO_FLOATS;
  private int undoCount;
  private int[] ids = NO_INTS;
  private long[] keys = NO_LONGS;
  private int[] scratchInts = NO_INTS;
  private float[] scratchFloats = NO_FLOATS;
  private long[] scratchLongs = NO_LONGS;
  private int vocabSize;
  private int size;
  private boolean dense;
  private boolean sorted;
  // The list was sorted before setLogit writes cleared the flag: orderPreserved(true) restores it.
  private boolean sortedBeforeWrites;
  // The list's ids ascend (a dense list, or one filtered from it): a stable sort on the logit
  // alone then gives the canonical order.
  private boolean idsAscending;
  private final LongRadixSort radix = new LongRadixSort();
  private final TopKeys top = new TopKeys();
  // The max and Σexp(logit - max) of an untouched row, when the engine knows them already.
  private boolean statisticsKnown;
  private float knownMax;
  private double knownSumExp;
  private int knownArgmax;
  // terms[id] = FastMath.expNonPositive(logit(id) - termsMax) for every id, while no logit has
  // changed since the engine supplied them: list changes keep them valid, writes do not.
  private float[] terms;
  private float termsMax;
  // The raw row's best keys (canonical, best first), while the row is borrowed and every write
  // since is in the undo log; complete when they are all of its finite tokens.
  private long[] rawTop;
  private int rawTopCount;
  private boolean rawTopComplete;
  // The terms of a list, gathered in list order for the fixed-point passes.
  private float[] listTerms = NO_FLOATS;

  /** Candidates whose full-vocabulary loops are the portable scalar ones. */
  public Candidates() {
    this(VocabKernels.SCALAR);
  }

  /** Candidates whose full-vocabulary loops run on {@code kernels} (the server's fast ones). */
  public Candidates(VocabKernels kernels) {
    this.kernels = kernels;
  }

  /**
   * Starts a new row: every token of a {@code vocabSize} vocabulary is a candidate. The caller
   * fills {@link #logits()} {@code [0, vocabSize)} next. For the engine and for tests.
   */
  public void reset(int vocabSize) {
    if (own.length < vocabSize) {
      own = new float[vocabSize];
      ids = new int[vocabSize];
      keys = new long[vocabSize];
    }
    logits = own;
    borrowed = null;
    undoCount = 0;
    this.vocabSize = vocabSize;
    this.size = vocabSize;
    this.dense = true;
    this.sorted = false;
    this.sortedBeforeWrites = false;
    this.idsAscending = true;
    this.statisticsKnown = false;
    this.terms = null;
    this.rawTop = null;
  }

  /**
   * For the engine: starts a new row over {@code values[0, vocabSize)} without copying them. Writes
   * of single tokens ({@link #setLogit}, {@link #remove}) go into {@code values} itself, and {@link
   * #restoreShared()} puts back what they overwrote; a bulk write through {@link #logits()}, or
   * more than a few thousand single writes, copies the row into this instance's own array first.
   * The caller must not change {@code values} until it has called {@link #restoreShared()}.
   */
  public void resetShared(float[] values, int vocabSize) {
    reset(vocabSize);
    logits = values;
    borrowed = values;
  }

  /**
   * For the engine: ends a row begun with {@link #resetShared}, giving the caller its values back
   * exactly as they were. The candidates must not be read afterwards until the next reset.
   */
  public void restoreShared() {
    if (borrowed == null) {
      return;
    }
    for (int i = undoCount - 1; i >= 0; i--) { // newest first: a token written twice gets its first
      borrowed[undoIds[i]] = undoValues[i];
    }
    undoCount = 0;
    borrowed = null;
  }

  // Past this many logged writes, copying the row is as cheap as logging more of them.
  private static final int UNDO_LIMIT = 4096;

  /** Before a single-token write: logs the old value while borrowed, or moves to the own array. */
  private void beforeWrite(int tokenId) {
    if (logits != borrowed) {
      return;
    }
    if (undoCount == UNDO_LIMIT) {
      writable();
      return;
    }
    if (undoCount == undoIds.length) {
      undoIds = Arrays.copyOf(undoIds, Math.max(64, 2 * undoCount));
      undoValues = Arrays.copyOf(undoValues, undoIds.length);
    }
    undoIds[undoCount] = tokenId;
    undoValues[undoCount++] = logits[tokenId];
  }

  /** Copies borrowed logits into this instance's own array, once, before a bulk write. */
  private void writable() {
    rawTop = null; // writes to the own array are not logged
    if (logits != own) {
      System.arraycopy(logits, 0, own, 0, vocabSize);
      logits = own;
    }
  }

  /**
   * For the engine: the logits filled in since {@link #reset} have this max, {@code Σ exp(logit -
   * max)} and best token (the lowest id holding the max), so the first stage to ask for {@link
   * #maxLogit()}, {@link #logSumExp()} or {@link #argmax()} gets them without a pass. Forgotten at
   * the first change, and as soon as {@link #logits()} hands out the writable array.
   */
  public void knownStatistics(float max, double sumExp, int argmax) {
    this.statisticsKnown = true;
    this.knownMax = max;
    this.knownSumExp = sumExp;
    this.knownArgmax = argmax;
  }

  /**
   * For the engine: {@code terms[id] = FastMath.expNonPositive(logit(id) - max)} for every token of
   * the row as it stands, {@code max} its max logit. Passes over the softmax terms ({@link
   * #expInto}, {@link #massAtLeast}, {@link #logSumExp} of a narrowed list) then read them instead
   * of computing exps, with the same bits; forgotten at the first write of a logit. The array is
   * read, never written, until the next reset.
   */
  public void knownTerms(float[] terms, float max) {
    this.terms = terms;
    this.termsMax = max;
  }

  /**
   * For the engine, on a row begun with {@link #resetShared}: {@code keys[0, count)} are the
   * {@link TopKeys#key canonical keys} of the row's best tokens as it was supplied, best first;
   * {@code complete} when they are all of its finite tokens. {@link #keepTop} then answers from
   * them and the tokens written since (in the undo log), without a pass over the row, whenever
   * that is provably the same answer. Forgotten when the row is copied (a bulk write) or reset;
   * the array is read, never written, until then.
   */
  public void knownTop(long[] keys, int count, boolean complete) {
    if (logits != borrowed || borrowed == null) {
      throw new IllegalStateException("knownTop needs a row begun with resetShared");
    }
    this.rawTop = keys;
    this.rawTopCount = count;
    this.rawTopComplete = complete;
  }

  /** Starts a new row from the given logits (copied). For tests and simple callers. */
  public static Candidates of(float... logits) {
    Candidates c = new Candidates();
    c.reset(logits.length);
    System.arraycopy(logits, 0, c.logits, 0, logits.length);
    return c;
  }

  /** The vocabulary size of the current row. */
  public int vocabSize() {
    return vocabSize;
  }

  /**
   * The logits by token id, valid in {@code [0, vocabSize())}; writable. The array may be longer
   * than the vocabulary.
   */
  public float[] logits() {
    statisticsKnown = false; // the caller may write through it
    terms = null;
    writable();
    return logits;
  }

  /** The logit of a token. */
  public float logit(int tokenId) {
    return logits[tokenId];
  }

  /** Sets the logit of a token; {@code -Infinity} removes it. Clears {@link #isSorted()}. */
  public void setLogit(int tokenId, float value) {
    beforeWrite(tokenId);
    logits[tokenId] = value;
    terms = null;
    if (sorted) {
      sorted = false;
      sortedBeforeWrites = true;
    }
    statisticsKnown = false;
  }

  /** Removes a token: its logit becomes {@code -Infinity}. Clears {@link #isSorted()}. */
  public void remove(int tokenId) {
    beforeWrite(tokenId);
    logits[tokenId] = Float.NEGATIVE_INFINITY;
    terms = null;
    sorted = false;
    sortedBeforeWrites = false;
    statisticsKnown = false;
  }

  /** Length of the candidate list, including entries whose logit is {@code -Infinity}. */
  public int size() {
    return size;
  }

  /** The token id at list position {@code i}. */
  public int id(int i) {
    return dense ? i : ids[i];
  }

  /** Whether the list is still the whole vocabulary in id order. */
  public boolean isDense() {
    return dense;
  }

  /**
   * Whether the list is in canonical order (logit descending, token id ascending) and holds no
   * {@code -Infinity} entry. Any {@link #setLogit} clears it.
   */
  public boolean isSorted() {
    return sorted;
  }

  /**
   * Tells whether the logits written since the list was last in canonical order kept that order
   * (e.g. a positive scale, through {@link #setLogit} or {@link #logits()}): {@code true} keeps a
   * sorted list sorted, {@code false} clears {@link #isSorted()}.
   */
  public void orderPreserved(boolean stillSorted) {
    this.sorted = stillSorted && (sorted || sortedBeforeWrites);
    this.sortedBeforeWrites = false;
  }

  /** Number of candidates with a logit above {@code -Infinity}. */
  public int count() {
    int n = 0;
    for (int i = 0; i < size; i++) {
      if (logits[id(i)] != Float.NEGATIVE_INFINITY) {
        n++;
      }
    }
    return n;
  }

  /** The largest candidate logit, or {@code -Infinity} when none is left. */
  public float maxLogit() {
    if (statisticsKnown) {
      return knownMax;
    }
    if (sorted && size > 0) {
      return logits[ids[0]];
    }
    float max = Float.NEGATIVE_INFINITY;
    if (dense) {
      return kernels.max(logits, size);
    } else {
      for (int i = 0; i < size; i++) {
        max = Math.max(max, logits[ids[i]]);
      }
    }
    return max;
  }

  /**
   * The best candidate: largest logit, ties to the lowest token id; -1 when none is left. Two fast
   * passes while the list is the whole vocabulary.
   */
  public int argmax() {
    if (statisticsKnown) {
      return knownArgmax;
    }
    float max = maxLogit();
    if (max == Float.NEGATIVE_INFINITY) {
      return -1;
    }
    if (dense) {
      return kernels.nextAtLeast(logits, 0, size, max); // ids ascend: the first is the lowest
    }
    int best = -1;
    for (int i = 0; i < size; i++) {
      int id = ids[i];
      if (logits[id] == max && (best < 0 || id < best)) {
        best = id;
      }
    }
    return best;
  }

  /**
   * {@code log Σ exp(logit)} over the candidates, max-subtracted and accumulated in double; {@code
   * -Infinity} when no candidate is left.
   */
  public double logSumExp() {
    if (statisticsKnown) {
      return knownMax + Math.log(knownSumExp);
    }
    float max = maxLogit();
    if (max == Float.NEGATIVE_INFINITY) {
      return Double.NEGATIVE_INFINITY;
    }
    if (dense) {
      return max + Math.log(kernels.sumExp(logits, size, max));
    }
    double sum = 0;
    if (terms != null && max == termsMax) {
      for (int i = 0; i < size; i++) {
        sum += terms[ids[i]];
      }
    } else {
      for (int i = 0; i < size; i++) {
        sum += FastMath.expNonPositive(logits[ids[i]] - max);
      }
    }
    return max + Math.log(sum);
  }

  /**
   * {@code Σ exp(logit - max)} over the candidates whose logit is at least {@code threshold}: the
   * unnormalised mass above a threshold, for truncations that look before they sort.
   *
   * @param max at least every candidate logit (usually {@link #maxLogit()})
   */
  public double massAtLeast(float threshold, float max) {
    if (dense) {
      return terms != null && max == termsMax
          ? kernels.sumAtLeast(logits, terms, size, threshold)
          : kernels.sumExpAtLeast(logits, size, max, threshold);
    }
    double sum = 0;
    for (int i = 0; i < size; i++) {
      float l = logits[ids[i]];
      if (l >= threshold) {
        sum += FastMath.expNonPositive(l - max);
      }
    }
    return sum;
  }

  /**
   * A softmax term's exact weight in fixed point, {@code rint(term · 2^40)} (ties to even): the
   * unit in which {@link #pick} and {@link #keepMass} count probability mass. Integer sums of
   * weights do not depend on their order, so those two give the same answer however the sum is
   * taken (SIMD width, kernels, list order of the survivors). A term below 2^-41 of the best
   * token's weighs nothing.
   */
  public static long weight(float term) {
    return (long) Math.rint(term * 0x1p40f);
  }

  /**
   * Inverse-CDF sampling in fixed point: with each candidate weighing {@link #weight} of its term
   * {@code exp(logit − max)}, the candidate in list order at which the running weight first exceeds
   * {@code floor(u · total)}. Exact: a candidate is chosen for a share of the u in [0, 1) equal to
   * its weight over the total. Returns -1 when no candidate is left.
   *
   * @param u a uniform in [0, 1), e.g. {@link SamplingContext#random(int)}
   */
  public int pick(double u) {
    float max = maxLogit();
    if (max == Float.NEGATIVE_INFINITY) {
      return -1;
    }
    float[] t = termsInListOrder(max);
    long total = kernels.weightSum(t, size);
    long target = Math.min(total - 1, (long) (u * total));
    int i = kernels.weightIndexAbove(t, size, target);
    return i < size ? id(i) : -1;
  }

  /**
   * Keeps the shortest prefix in canonical order (logit descending, token id ascending) whose
   * {@link #weight weight} reaches {@code fraction} of the candidates' total weight, rounded up;
   * at least one token. The survivors stay in list order (ids ascending while the list was the
   * whole vocabulary), and no sort of them is needed: a few passes over the row find a logit
   * window holding the boundary, and only the tokens inside it are ordered. Nucleus sampling.
   *
   * @param fraction in (0, 1]; 1 (or more) keeps every candidate
   */
  public void keepMass(double fraction) {
    float max = maxLogit();
    if (max == Float.NEGATIVE_INFINITY || !(fraction < 1)) {
      return;
    }
    statisticsKnown = false;
    if (sorted || !dense) {
      keepMassOfSorted(fraction, max);
      return;
    }
    float[] t = termsInListOrder(max);
    long total = kernels.weightSum(t, size);
    long target = target(fraction, total);
    findWindow(t, max, total, target);
    float lo = windowLo;
    float hi = windowHi;
    int n = kernels.indicesAtLeast(logits, size, lo, ids);
    long cut = windowCut(t, n, hi, target);
    if (cut == NOT_REACHED) { // too little above lo: the whole row is the window
      n = kernels.indicesAtLeast(logits, size, -Float.MAX_VALUE, ids);
      cut = windowCut(t, n, Math.nextUp(max), target);
    }
    int kept = 0;
    for (int j = 0; j < n; j++) {
      int id = ids[j];
      ids[kept] = id;
      kept += TopKeys.key(logits[id], id) <= cut ? 1 : 0;
    }
    size = kept;
    dense = false;
    sorted = false;
    sortedBeforeWrites = false;
    idsAscending = true;
  }

  // The window [lo, hi) of logits findWindow chose.
  private float windowLo;
  private float windowHi;

  /**
   * Chooses a window [lo, hi) of logits that holds the boundary, with float sums (half the cost of
   * exact ones): they only choose it; the walk over the window counts exactly, and widens it when
   * the float sums chose wrong. Below max + ln(room · 2^-40) a token weighs about room or less, so
   * the n of them about total - target: lo starts there, without a pass. (A method of its own:
   * C2 compiles the Vector API loops into SIMD code only when their caller stays small.)
   */
  private void findWindow(float[] t, float max, long total, long target) {
    double room = (double) (total - target - size) / size;
    float lo = room >= 1 ? (float) (max + Math.log(room * 0x1p-40) - LO_MARGIN) : -Float.MAX_VALUE;
    float hi = Math.nextUp(max);
    double needed = target * 0x1p-40 * (1 + FLOAT_MARGIN);
    for (int probe = 0; probe < MASS_PROBES; probe++) {
      float mid = lo == -Float.MAX_VALUE ? hi - FAR : lo / 2 + hi / 2;
      if (!(mid > lo && mid < hi)) {
        break; // adjacent floats: the window is one logit value
      }
      if (kernels.sumAtLeast(logits, t, size, mid) >= needed) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    windowLo = lo;
    windowHi = hi;
  }

  // Full-vocabulary probes before the window is ordered: each halves the window's logit range.
  private static final int MASS_PROBES = 4;
  // Without a start, the first probe looks this far below the max (e^-32 ≈ 1.3e-14).
  private static final float FAR = 32f;
  // e^-0.01: room for FastMath's exp, within a few ulps of the true one, to round up.
  private static final double LO_MARGIN = 0.01;
  // Float partial sums of a few hundred terms are within 1e-5 of the exact sum, and each rint
  // within half a unit: past this margin a probe's "enough" is nearly always right.
  private static final double FLOAT_MARGIN = 1e-4;
  private static final long NOT_REACHED = Long.MAX_VALUE;

  private static long target(double fraction, long total) {
    return Math.min(total, Math.max(1, (long) Math.ceil(fraction * total)));
  }

  /**
   * The canonical key of the last token kept, of the tokens {@code ids[0, n)} (all at or above the
   * window's low end) and the window's high end {@code hi}; {@link #NOT_REACHED} when they weigh
   * less than the target. Only the window's tokens are sorted; when those at or above {@code hi}
   * reach the target on their own, the window was chosen too low and every token is sorted.
   */
  private long windowCut(float[] t, int n, float hi, long target) {
    long above = 0;
    long all = 0;
    int w = 0;
    for (int j = 0; j < n; j++) {
      int id = ids[j];
      float l = logits[id];
      long weight = weight(t[id]);
      all += weight;
      boolean inWindow = l < hi;
      above += inWindow ? 0 : weight;
      keys[w] = TopKeys.key(l, id);
      w += inWindow ? 1 : 0;
    }
    if (all < target) {
      return NOT_REACHED;
    }
    if (above >= target) { // the float sums misjudged hi: order them all
      for (int j = 0; j < n; j++) {
        keys[j] = TopKeys.key(logits[ids[j]], ids[j]);
      }
      w = n;
      above = 0;
    }
    Arrays.sort(keys, 0, w);
    long sum = above;
    for (int j = 0; j < w; j++) {
      sum += weight(t[TopKeys.id(keys[j])]);
      if (sum >= target) {
        return keys[j];
      }
    }
    return NOT_REACHED;
  }

  // A list (usually short after earlier truncations): in canonical order, the prefix is a walk.
  private void keepMassOfSorted(double fraction, float max) {
    sort();
    float[] t = termsInListOrder(max);
    long total = kernels.weightSum(t, size);
    long target = target(fraction, total);
    long sum = 0;
    for (int i = 0; i < size; i++) {
      sum += weight(t[i]);
      if (sum >= target) {
        size = i + 1;
        return;
      }
    }
  }

  /**
   * {@code exp(logit − max)} of every list position, in list order: the engine's terms when they
   * are still valid and the list is the vocabulary, otherwise computed into a private array.
   */
  private float[] termsInListOrder(float max) {
    if (listTerms.length < size) {
      listTerms = new float[Math.max(size, vocabSize)];
    }
    boolean known = terms != null && max == termsMax;
    if (dense) {
      if (known) {
        return terms;
      }
      kernels.expInto(logits, size, max, listTerms);
      return listTerms;
    }
    for (int i = 0; i < size; i++) {
      int id = ids[i];
      listTerms[i] = known ? terms[id] : FastMath.expNonPositive(logits[id] - max);
    }
    return listTerms;
  }

  /** Drops {@code -Infinity} entries from the list, keeping the order; materialises a dense list. */
  public void compact() {
    statisticsKnown = false;
    int n = 0;
    if (dense) {
      for (int i = 0; i < size; i++) {
        if (logits[i] != Float.NEGATIVE_INFINITY) {
          ids[n++] = i;
        }
      }
      dense = false;
    } else {
      for (int i = 0; i < size; i++) {
        int id = ids[i];
        if (logits[id] != Float.NEGATIVE_INFINITY) {
          ids[n++] = id;
        }
      }
    }
    size = n;
  }

  /**
   * Keeps the candidates whose logit is at least {@code threshold}, in list order. A NaN
   * threshold keeps nothing.
   */
  public void retainAtLeast(float threshold) {
    statisticsKnown = false;
    int n = 0;
    if (threshold != threshold) {
      // NaN: nothing is at least NaN
    } else if (dense) {
      n = kernels.indicesAtLeast(logits, size, threshold, ids);
    } else {
      for (int i = 0; i < size; i++) {
        int id = ids[i];
        if (logits[id] >= threshold) {
          ids[n++] = id;
        }
      }
    }
    dense = false;
    size = n;
  }

  /** Sorts the candidates into canonical order, dropping {@code -Infinity} entries. */
  public void sort() {
    if (sorted) {
      return;
    }
    int n = fillKeys();
    if (idsAscending && n > RADIX_MIN) {
      radix.sortByHigh(keys, n); // stable: ids stay ascending among equal logits
    } else {
      Arrays.sort(keys, 0, n);
    }
    unpackKeys(n);
  }

  // Below this, a comparison sort of a few hundred longs is as fast as the radix passes.
  private static final int RADIX_MIN = 256;

  /**
   * Keeps exactly the {@code k} best candidates (logit descending, ties to the lower token id), in
   * canonical order. Costs O(size + k log k): no full sort.
   */
  public void keepTop(int k) {
    statisticsKnown = false;
    if (k <= 0) {
      throw new IllegalArgumentException("k must be positive: " + k);
    }
    if (k <= STREAM_LIMIT && size > 8 * k) {
      float bound = keepTopOfKnownTop(k);
      if (!Float.isNaN(bound)) { // NaN: answered from the list
        keepTopOfStream(k, bound);
      }
      return;
    }
    int n = fillKeys();
    if (k < n) {
      LongSelect.smallest(keys, n, k);
      n = k;
    }
    Arrays.sort(keys, 0, n);
    unpackKeys(n);
  }

  // The raw top list plus the tokens written since hold the answer when their k-th best is no worse
  // than the list's last: every other token still has its raw logit, below that last one. Returns
  // NaN when they did; else a logit the answer's k-th best reaches (the k-th best of those it
  // looked at, -inf when it looked at none), which lets the pass over the row skip the rest.
  private float keepTopOfKnownTop(int k) {
    if (rawTop == null || !dense || logits != borrowed || (rawTopCount == 0 && !rawTopComplete)
        || rawTopCount + undoCount > keys.length) {
      return Float.NEGATIVE_INFINITY;
    }
    int n = 0;
    for (int i = 0; i < rawTopCount; i++) {
      int id = TopKeys.id(rawTop[i]);
      if (logits[id] != Float.NEGATIVE_INFINITY) {
        keys[n++] = TopKeys.key(logits[id], id);
      }
    }
    for (int i = 0; i < undoCount; i++) {
      int id = undoIds[i];
      if (logits[id] != Float.NEGATIVE_INFINITY) {
        keys[n++] = TopKeys.key(logits[id], id);
      }
    }
    Arrays.sort(keys, 0, n);
    int unique = 0;
    for (int i = 0; i < n; i++) { // a written token of the list is there twice, with one key
      if (unique == 0 || keys[i] != keys[unique - 1]) {
        keys[unique++] = keys[i];
      }
    }
    if (!rawTopComplete && (unique < k || keys[k - 1] > rawTop[rawTopCount - 1])) {
      // A penalty lowered more of the list's tokens than it had to spare (a sequence repeating
      // its likely tokens): tokens from below the list may now be among the k best, but none
      // below the k-th best of these, which are k real tokens.
      return unique < k ? Float.NEGATIVE_INFINITY : TopKeys.logit(keys[k - 1]);
    }
    unpackKeys(Math.min(k, unique));
    return Float.NaN;
  }

  // Small k over a large list: one pass where almost every token is rejected by a single float
  // comparison against the k-th best so far (SIMD while the list is dense).
  private static final int STREAM_LIMIT = 4096;

  // The k best by a pass over the candidates; none of them is below {@code bound}.
  private void keepTopOfStream(int k, float bound) {
    top.start(k);
    if (dense) {
      for (int i = kernels.nextAtLeast(logits, 0, size, Math.max(bound, top.floor())); i < size;
          i = kernels.nextAtLeast(logits, i + 1, size, Math.max(bound, top.floor()))) {
        top.offer(logits[i], i);
      }
    } else {
      for (int i = 0; i < size; i++) {
        int id = ids[i];
        top.offer(logits[id], id);
      }
    }
    int n = top.finish();
    System.arraycopy(top.keys(), 0, keys, 0, n);
    unpackKeys(n);
  }

  /** Keeps the first {@code n} entries of the list (meaningful once sorted). */
  public void truncate(int n) {
    statisticsKnown = false;
    if (n < 0 || n > size) {
      throw new IllegalArgumentException("cannot truncate " + size + " candidates to " + n);
    }
    if (dense) {
      for (int i = 0; i < n; i++) {
        ids[i] = i;
      }
      dense = false;
    }
    size = n;
  }

  /**
   * Replaces the candidate list with {@code tokenIds[0, n)}.
   *
   * @param sorted whether those ids are in canonical order with finite logits
   */
  public void retain(int[] tokenIds, int n, boolean sorted) {
    statisticsKnown = false;
    if (n > vocabSize) {
      throw new IllegalArgumentException("more candidates than tokens: " + n);
    }
    if (tokenIds != ids) {
      System.arraycopy(tokenIds, 0, ids, 0, n);
    }
    this.size = n;
    this.dense = false;
    this.sorted = sorted;
    this.sortedBeforeWrites = false;
    this.idsAscending = false;
  }

  /**
   * {@code out[i] = exp(logit(id(i)) - max)} for every list position {@code i < size()}, with
   * {@link FastMath#expNonPositive} (0 for a {@code -Infinity} logit), for {@code max ≥} every
   * candidate logit: the unnormalised softmax terms in list order, computed with SIMD while the
   * list is the whole vocabulary.
   */
  public void expInto(float max, float[] out) {
    boolean known = terms != null && max == termsMax;
    if (dense) {
      if (known) {
        System.arraycopy(terms, 0, out, 0, size);
      } else {
        kernels.expInto(logits, size, max, out);
      }
      return;
    }
    if (known) {
      for (int i = 0; i < size; i++) {
        out[i] = terms[ids[i]];
      }
      return;
    }
    for (int i = 0; i < size; i++) {
      out[i] = FastMath.expNonPositive(logits[ids[i]] - max);
    }
  }

  /** A scratch {@code int[]} of at least {@code n} entries, reused across rows; not zeroed. */
  public int[] scratchInts(int n) {
    if (scratchInts.length < n) {
      scratchInts = new int[Math.max(n, vocabSize)];
    }
    return scratchInts;
  }

  /** A scratch {@code float[]} of at least {@code n} entries, reused across rows; not zeroed. */
  public float[] scratchFloats(int n) {
    if (scratchFloats.length < n) {
      scratchFloats = new float[Math.max(n, vocabSize)];
    }
    return scratchFloats;
  }

  /** A scratch {@code long[]} of at least {@code n} entries, reused across rows; not zeroed. */
  public long[] scratchLongs(int n) {
    if (scratchLongs.length < n) {
      scratchLongs = new long[Math.max(n, vocabSize)];
    }
    return scratchLongs;
  }

  // Canonical order as one long per candidate (TopKeys.key): sorting ascending gives it.
  private int fillKeys() {
    int n = 0;
    for (int i = 0; i < size; i++) {
      int id = id(i);
      float l = logits[id];
      if (l != Float.NEGATIVE_INFINITY) {
        keys[n++] = TopKeys.key(l, id);
      }
    }
    return n;
  }

  private void unpackKeys(int n) {
    for (int i = 0; i < n; i++) {
      ids[i] = (int) keys[i];
    }
    size = n;
    dense = false;
    sorted = true;
    sortedBeforeWrites = false;
    idsAscending = false;
  }
}
