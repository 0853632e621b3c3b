package dev.tally.core.engine;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.kernel.Kernels;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.Stage;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.spi.Candidates;

/**
 * Samples one row at a time: decode, check, run the chain, select, and compute the logprobs,
 * rank and top alternatives. One instance per sampler thread: it owns the reusable buffers, so a
 * row allocates nothing proportional to the vocabulary.
 */
public final class RowSampler {
  private final Candidates candidates;
  private final RowContext context = new RowContext();
  private final Kernels kernels;
  private final StageTimer stageTimer;
  private float[] raw = new float[0];
  private short[] halves = new short[0];
  /** The values of the last top list, best first: {@code topValues[0, topCount)}. */
  private float[] topValues = new float[0];
  private int topCount;

  /** A sampler on the kernels this JVM runs best. */
  public RowSampler() {
    this(Kernels.best());
  }

  /** A sampler on the given kernels (tests compare scalar and vector). */
  public RowSampler(Kernels kernels) {
    this(kernels, StageTimer.NONE);
  }

  /** A sampler on the given kernels that reports each stage's time to {@code timer}. */
  public RowSampler(Kernels kernels, StageTimer timer) {
    this.kernels = kernels;
    this.stageTimer = java.util.Objects.requireNonNull(timer, "timer");
    this.candidates = new Candidates(kernels);
  }

  /**
   * Samples {@code row} of {@code logits}. Never throws for a bad row: the error is in the result.
   *
   * @param history the row's sequence; its output length is the random counter
   * @param seed the sequence's seed
   */
  public RowResult sample(LogitsTensor logits, int row, Chain chain, TokenLog history, long seed) {
    try {
      return sampleOrThrow(logits, row, chain, history, seed);
    } catch (TallyException e) {
      return RowResult.failure(e, seed);
    }
  }

  private RowResult sampleOrThrow(LogitsTensor logits, int row, Chain chain, TokenLog history,
      long seed) {
    int vocab = logits.vocabSize();
    if (raw.length < vocab) {
      raw = new float[vocab];
      halves = new short[vocab];
    }
    logits.decodeRow(row, raw, halves, kernels);
    chain.checkVocabulary(vocab);
    if (history.maxTokenId() >= vocab) {
      throw TallyException.invalidParams("histories", "row " + row + ": the history holds token id "
          + history.maxTokenId() + ", outside the vocabulary of " + vocab);
    }
    float rawMax = checkedMax(row, vocab);
    // The candidates' starting logits: a view of the raw row when the first stage only reads
    // (copied if a later stage writes), else a copy made in the raw Σexp pass. Either way the
    // first stage gets the max and Σexp for free while it has changed nothing.
    double rawSumExp;
    if (chain.firstStageReadsOnly()) {
      rawSumExp = kernels.sumExp(raw, vocab, rawMax);
      candidates.resetShared(raw, vocab);
    } else {
      candidates.reset(vocab);
      rawSumExp = kernels.copySumExp(raw, candidates.logits(), vocab, rawMax);
    }
    candidates.knownStatistics(rawMax, rawSumExp);
    double rawLse = rawMax + Math.log(rawSumExp);

    context.set(history, seed);
    int chosen = runChain(chain, vocab, row);
    RowResult r = new RowResult();
    r.seed = seed;
    r.tokenId = chosen;
    boolean deterministic = isDeterministic(chain);
    // A deterministic choice has probability 1: no pass over the candidates is needed for it.
    boolean needsProcessed = !deterministic || chain.explain()
        || (chain.topLogprobs() > 0 && chain.processedLogprobs());
    double processedLse = needsProcessed ? candidates.logSumExp() : Double.NaN;
    if (chain.scoresLabels()) {
      labelLogprobs(chain, processedLse, r);
    }
    r.processedLogprob = deterministic ? 0f : (float) (candidates.logit(chosen) - processedLse);
    float chosenRaw = raw[chosen];
    r.logprob = (float) (chosenRaw - rawLse);
    int n = chain.topLogprobs();
    r.rank = -1;
    if (n > 0) {
      if (!chain.processedLogprobs()) {
        topAlternatives(r, n, raw, null, vocab, rawLse);
        r.rank = rankFromTop(n, chosenRaw);
      } else if (deterministic) {
        r.topIds = new int[] {chosen};
        r.topLogprobs = new float[] {0f};
      } else {
        topAlternatives(r, n, candidates.logits(), candidates, candidates.size(), processedLse);
      }
    }
    if (r.rank < 0) {
      r.rank = kernels.countAtLeast(raw, vocab, chosenRaw);
    }
    r.finish = chain.isEos(chosen) ? RowResult.Finish.EOS_TOKEN
        : chain.isStop(chosen) ? RowResult.Finish.STOP_TOKEN : RowResult.Finish.NONE;
    if (chain.explain()) {
      explain(chain, vocab, row, chosen, r);
    }
    return r;
  }

  /** Checks the row (no NaN, no +Inf, something finite) and returns its max. */
  private float checkedMax(int row, int vocab) {
    float max = kernels.maxOrNaN(raw, vocab);
    if (Float.isNaN(max)) {
      for (int v = 0; v < vocab; v++) { // rare: find the culprit for the message
        float x = raw[v];
        if (Float.isNaN(x) || x == Float.POSITIVE_INFINITY) {
          throw new TallyException(ErrorCode.INVALID_LOGITS, "logits.data", "row " + row
              + ": the logit of token " + v + " is " + x + "; logits must be finite or -inf");
        }
      }
    }
    if (max == Float.NEGATIVE_INFINITY) {
      throw new TallyException(ErrorCode.NO_CANDIDATES, "logits.data",
          "row " + row + ": every logit is -inf; no token can be chosen");
    }
    return max;
  }

  /**
   * The chosen token's raw rank read off the top list {@link #topAlternatives} just built, or -1
   * when the list cannot tell. A token above the list's last value has every token at or above it
   * in the list (the list holds the n best, or every finite logit when there are fewer): no pass
   * over the vocabulary is needed, as it usually is for a token from a truncated distribution.
   */
  private int rankFromTop(int n, float chosenRaw) {
    if (chosenRaw == Float.NEGATIVE_INFINITY
        || (topCount == n && !(chosenRaw > topValues[n - 1]))) {
      return -1;
    }
    int rank = 0;
    while (rank < topCount && topValues[rank] >= chosenRaw) {
      rank++;
    }
    return rank;
  }

  /** Runs every stage and the selector on the fresh candidates; returns the chosen token. */
  private int runChain(Chain chain, int vocab, int row) {
    for (Stage stage : chain.processors()) {
      apply(stage, row);
    }
    return chain.scoresLabels() ? scoreLabels(chain, row) : select(chain.selector(), vocab, row);
  }

  private static boolean isDeterministic(Chain chain) {
    return !chain.scoresLabels() && chain.selector().selector().isDeterministic();
  }

  /**
   * Label scoring: the candidates become the labels that are still candidates, and the most likely
   * of them (ties to the lowest id) is the answer. No draw.
   */
  private int scoreLabels(Chain chain, int row) {
    int[] labels = chain.labelTokenIds();
    int[] kept = candidates.scratchInts(labels.length);
    int n = 0;
    int best = -1;
    for (int id : labels) {
      if (id < candidates.vocabSize() && isCandidate(id)) {
        kept[n++] = id;
        float l = candidates.logit(id);
        if (best < 0 || l > candidates.logit(best) || (l == candidates.logit(best) && id < best)) {
          best = id;
        }
      }
    }
    if (n == 0) {
      throw new TallyException(ErrorCode.NO_CANDIDATES, "label_token_ids",
          "row " + row + ": every label token was removed by the chain's processors");
    }
    candidates.retain(kept, n, false);
    return best;
  }

  /** Each label's log-probability renormalised over the labels, in request order. */
  private void labelLogprobs(Chain chain, double labelLse, RowResult r) {
    int[] labels = chain.labelTokenIds();
    float[] logprobs = new float[labels.length];
    for (int i = 0; i < labels.length; i++) {
      int id = labels[i];
      logprobs[i] = isCandidate(id) ? (float) (candidates.logit(id) - labelLse)
          : Float.NEGATIVE_INFINITY;
    }
    r.labelIds = labels;
    r.labelLogprobs = logprobs;
  }

  private void apply(Stage stage, int row) {
    long began = stageTimer.begin();
    try {
      stage.processor().apply(candidates, context);
    } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
      throw failed(stage, row, e);
    } finally {
      stageTimer.end(stage, began);
    }
  }

  private int select(Stage stage, int vocab, int row) {
    float max = candidates.maxLogit();
    if (max == Float.NEGATIVE_INFINITY) { // no candidate left
      throw new TallyException(ErrorCode.NO_CANDIDATES, null,
          "row " + row + ": no candidate token is left after the chain's processors");
    }
    if (!(max < Float.POSITIVE_INFINITY)) { // +inf or NaN: no softmax exists
      throw new TallyException(ErrorCode.PROCESSOR_FAILED, null, "row " + row
          + ": the chain's processors produced a logit of " + max
          + "; logits must stay finite or -inf");
    }
    int chosen;
    long began = stageTimer.begin();
    try {
      chosen = stage.selector().select(candidates, context);
    } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
      throw failed(stage, row, e);
    } finally {
      stageTimer.end(stage, began);
    }
    if (chosen < 0 || chosen >= vocab || !isCandidate(chosen)) {
      throw new TallyException(ErrorCode.PROCESSOR_FAILED, null, "row " + row + ": selector '"
          + stage.name() + "' (plugin " + stage.plugin() + ") chose token " + chosen
          + ", which is not a candidate");
    }
    return chosen;
  }

  /**
   * A stage's failure as the row's error. Plugin code may throw more than RuntimeExceptions: a
   * class missing from its jar (LinkageError), a failed assert, runaway recursion, or a checked
   * exception a JVM language threw without declaring it. All of them fail only this row (DESIGN
   * §4); the server would otherwise fail the whole batch or, for a checked exception, lose the
   * worker and never answer. Other VirtualMachineErrors (out of memory) still propagate.
   */
  private static TallyException failed(Stage stage, int row, Throwable e) {
    return new TallyException(ErrorCode.PROCESSOR_FAILED, null, "row " + row + ": processor '"
        + stage.name() + "' (plugin " + stage.plugin() + ") failed: " + e, e);
  }

  private boolean isCandidate(int id) {
    if (candidates.logit(id) == Float.NEGATIVE_INFINITY) {
      return false;
    }
    if (candidates.isDense()) {
      return true;
    }
    for (int i = 0, n = candidates.size(); i < n; i++) {
      if (candidates.id(i) == id) {
        return true;
      }
    }
    return false;
  }

  /**
   * The n best entries (value descending, id ascending), as logprobs {@code value - lse}. Scans
   * either the dense {@code values[0, size)} or, with {@code list}, the candidate list.
   */
  private void topAlternatives(RowResult r, int n, float[] values, Candidates list,
      int size, double lse) {
    int[] ids = new int[n];
    if (topValues.length < n) {
      topValues = new float[n];
    }
    float[] best = topValues;
    int count = 0;
    // Below the n-th best so far: most tokens stop at this one comparison.
    float floor = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < size; i++) {
      if (list == null) {
        i = kernels.nextAtLeast(values, i, size, floor);
        if (i == size) {
          break;
        }
      }
      int id = list == null ? i : list.id(i);
      float v = values[id];
      if (v < floor || v == Float.NEGATIVE_INFINITY) {
        continue;
      }
      if (count == n && !(v > best[n - 1] || (v == best[n - 1] && id < ids[n - 1]))) {
        continue;
      }
      int pos = count == n ? n - 1 : count++;
      while (pos > 0 && (v > best[pos - 1] || (v == best[pos - 1] && id < ids[pos - 1]))) {
        best[pos] = best[pos - 1];
        ids[pos] = ids[pos - 1];
        pos--;
      }
      best[pos] = v;
      ids[pos] = id;
      if (count == n) {
        floor = best[n - 1];
      }
    }
    float[] logprobs = new float[count];
    for (int i = 0; i < count; i++) {
      logprobs[i] = (float) (best[i] - lse);
    }
    r.topIds = java.util.Arrays.copyOf(ids, count);
    r.topLogprobs = logprobs;
    topCount = count;
  }

  /**
   * Explain mode: re-runs the chain with the chosen token known, tracing each stage. Stages are
   * pure functions of the logits, the history and the counter-based random numbers, so the re-run
   * takes the same path.
   */
  private void explain(Chain chain, int vocab, int row, int chosen, RowResult r) {
    r.topLogitGap = rawTopGap(vocab);
    candidates.reset(vocab);
    System.arraycopy(raw, 0, candidates.logits(), 0, vocab);
    for (Stage stage : chain.processors()) {
      apply(stage, row);
      r.stages.add(trace(stage.name(), chosen));
    }
    String last;
    if (chain.scoresLabels()) {
      scoreLabels(chain, row);
      last = "labels";
    } else {
      select(chain.selector(), vocab, row);
      last = chain.selector().name();
    }
    RowResult.StageTrace end = trace(last, chosen);
    double chosenP = isDeterministic(chain) ? 1.0 : end.chosenProbability;
    r.stages.add(new RowResult.StageTrace(end.name, end.candidates, end.entropy, chosenP,
        end.topLogitGap));
  }

  private RowResult.StageTrace trace(String name, int chosen) {
    double lse = candidates.logSumExp();
    int count = 0;
    double entropy = 0;
    float first = Float.NEGATIVE_INFINITY;
    float second = Float.NEGATIVE_INFINITY;
    for (int i = 0, n = candidates.size(); i < n; i++) {
      float l = candidates.logit(candidates.id(i));
      if (l == Float.NEGATIVE_INFINITY) {
        continue;
      }
      count++;
      double logp = l - lse;
      entropy -= Math.exp(logp) * logp;
      if (l > first) {
        second = first;
        first = l;
      } else if (l > second) {
        second = l;
      }
    }
    double p = isCandidate(chosen) ? Math.exp(candidates.logit(chosen) - lse) : 0;
    return new RowResult.StageTrace(name, count, entropy, p, count < 2 ? 0f : first - second);
  }

  private float rawTopGap(int vocab) {
    float first = Float.NEGATIVE_INFINITY;
    float second = Float.NEGATIVE_INFINITY;
    for (int v = 0; v < vocab; v++) {
      float l = raw[v];
      if (l > first) {
        second = first;
        first = l;
      } else if (l > second) {
        second = l;
      }
    }
    return second == Float.NEGATIVE_INFINITY ? 0f : first - second;
  }
}
