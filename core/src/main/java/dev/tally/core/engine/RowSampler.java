package dev.tally.core.engine;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.kernel.Kernels;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.EndRules;
import dev.tally.core.pipeline.Stage;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.core.vocab.StopStringMatcher;
import dev.tally.spi.Candidates;
import dev.tally.spi.TokenRejectedException;
import dev.tally.spi.TopKeys;

/**
 * Samples one row at a time: decode, check, run the chain, select, and compute the logprobs,
 * rank and top alternatives. One instance per sampler thread: it owns the reusable buffers, so a
 * row allocates nothing proportional to the vocabulary.
 */
public final class RowSampler {
  private final Candidates candidates;
  private final RowContext context = new RowContext();
  private final StopStringMatcher stopMatcher = new StopStringMatcher();
  private final Kernels kernels;
  private final StageTimer stageTimer;
  private final RowScan scan;
  private float[] raw = new float[0];
  private float[] terms = new float[0];

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
    this.scan = new RowScan(kernels);
  }

  // The raw top list holds at least this many tokens, so that the chosen token's rank is usually
  // read off it: a truncated distribution's choice is rarely below the 16th raw logit.
  private static final int RANK_LIST = 16;

  // Beyond a top_k's k, the raw list holds this many more tokens, so that a penalty lowering a few
  // of the best still leaves the k best of the row on it (Candidates.keepTop checks that it does).
  private static final int TOP_K_MARGIN = 16;
  // A longer list costs its scan more than one more pass over the row would.
  private static final int MAX_RAW_LIST = 1024;

  private static int rawListLength(Chain chain, int topLogprobs) {
    int k = chain.rawTopHint();
    int forTopK = k > 0 && k <= MAX_RAW_LIST - TOP_K_MARGIN ? k + TOP_K_MARGIN : 0;
    return Math.max(Math.max(topLogprobs, RANK_LIST), forTopK);
  }

  /**
   * Samples {@code row} of {@code logits}. Never throws for a bad row: the error is in the result.
   *
   * @param history the row's sequence; its output length is the random counter
   * @param seed the sequence's seed
   */
  public RowResult sample(LogitsTensor logits, int row, Chain chain, TokenLog history, long seed) {
    return sample(logits, row, chain, history, seed, DRAW);
  }

  /** {@link #sample}'s {@code target} that draws: any other value is a token to score. */
  public static final int DRAW = -1;

  /**
   * Samples {@code row}, or with a {@code target} token scores it instead of drawing (teacher
   * forcing): the chain runs as for a draw, and the result is the target with its raw and processed
   * logprobs (processed -inf when the chain removed it), rank and top-N; nothing is drawn and the
   * row never finishes the sequence. Never throws for a bad row.
   *
   * @param target {@link #DRAW}, or a token id in {@code [0, vocab)}
   */
  public RowResult sample(LogitsTensor logits, int row, Chain chain, TokenLog history, long seed,
      int target) {
    try {
      return sampleOrThrow(logits, row, chain, history, seed, target, NO_DRAFT);
    } catch (TallyException e) {
      return RowResult.failure(e, seed);
    }
  }

  /** {@link #verify}'s {@code draft} for the row after the last draft token. */
  public static final int BONUS = -2;
  private static final int NO_DRAFT = -1;

  /**
   * Samples a row of a draft block exactly as {@link #sample} draws it, then judges it: with a
   * {@code draft} token, {@link RowResult.Verdict#ACCEPTED} when the draw equals it, else {@link
   * RowResult.Verdict#CORRECTED}, and the draft token's processed probability in either case;
   * with {@link #BONUS}, {@link RowResult.Verdict#BONUS}. Never throws for a bad row.
   */
  public RowResult verify(LogitsTensor logits, int row, Chain chain, TokenLog history, long seed,
      int draft) {
    try {
      return sampleOrThrow(logits, row, chain, history, seed, DRAW, draft);
    } catch (TallyException e) {
      return RowResult.failure(e, seed);
    }
  }

  private RowResult sampleOrThrow(LogitsTensor logits, int row, Chain chain, TokenLog history,
      long seed, int target, int draft) {
    if (draft >= logits.vocabSize()) {
      throw TallyException.invalidParams("drafts", "row " + row + ": the draft token " + draft
          + " is outside the vocabulary of " + logits.vocabSize());
    }
    boolean scoring = target != DRAW;
    if (scoring && (target < 0 || target >= logits.vocabSize())) {
      throw TallyException.invalidParams("target_token_ids", "row " + row + ": the target token "
          + target + " is outside the vocabulary of " + logits.vocabSize());
    }
    if (scoring && chain.scoresLabels()) {
      throw TallyException.invalidParams("target_token_ids", "row " + row
          + ": a row that scores labels (label_token_ids) cannot also score a target token");
    }
    int vocab = logits.vocabSize();
    if (raw.length < vocab) {
      raw = new float[vocab];
    }
    int n = chain.topLogprobs();
    float scannedMax = scan.scan(logits, row, raw, rawListLength(chain, n));
    chain.checkVocabulary(vocab);
    if (history.maxTokenId() >= vocab) {
      throw TallyException.invalidParams("histories", "row " + row + ": the history holds token id "
          + history.maxTokenId() + ", outside the vocabulary of " + vocab);
    }
    float rawMax = checkedMax(scannedMax, row, vocab);
    boolean withTerms = chain.readsRawTerms();
    if (withTerms && terms.length < vocab) {
      terms = new float[vocab];
    }
    double rawSumExp = withTerms ? kernels.sumExpInto(raw, vocab, rawMax, terms)
        : kernels.sumExp(raw, vocab, rawMax);
    // The candidates borrow the raw row (a write of a few tokens is undone afterwards, a bulk
    // write copies it), and the first stage gets its max, Σexp and argmax for free.
    candidates.resetShared(raw, vocab);
    candidates.knownStatistics(rawMax, rawSumExp, TopKeys.id(scan.topKeys()[0]));
    candidates.knownTop(scan.topKeys(), scan.topCount(), scan.topCount() < scan.keep());
    if (withTerms) {
      candidates.knownTerms(terms, rawMax);
    }
    double rawLse = rawMax + Math.log(rawSumExp);

    context.set(history, seed);
    boolean deterministic = isDeterministic(chain);
    // A scored row runs the selector only when its choice is the whole processed distribution.
    int drawn = scoring ? processors(chain, vocab, row, deterministic) : runChain(chain, vocab, row);
    int chosen = scoring ? target : drawn;
    RowResult r = new RowResult();
    r.seed = seed;
    r.tokenId = chosen;
    r.verdict = scoring ? RowResult.Verdict.SCORED : draft == BONUS ? RowResult.Verdict.BONUS
        : draft < 0 ? RowResult.Verdict.DRAWN : draft == chosen ? RowResult.Verdict.ACCEPTED
        : RowResult.Verdict.CORRECTED;
    r.greedy = chosen == TopKeys.id(scan.topKeys()[0]);
    // A deterministic choice has probability 1: no pass over the candidates is needed for it.
    boolean needsProcessed = !deterministic || chain.explain()
        || (chain.topLogprobs() > 0 && chain.processedLogprobs());
    double processedLse = needsProcessed ? candidates.logSumExp() : Double.NaN;
    if (chain.scoresLabels()) {
      labelLogprobs(chain, processedLse, r);
    }
    if (draft >= 0) { // the chance a strict verification had to accept the draft token
      r.acceptanceProbability = deterministic ? (draft == drawn ? 1f : 0f)
          : isCandidate(draft) ? (float) Math.exp(candidates.logit(draft) - processedLse) : 0f;
    }
    if (deterministic) {
      r.processedLogprob = chosen == drawn ? 0f : Float.NEGATIVE_INFINITY;
    } else if (scoring) {
      r.processedLogprob = drawn >= 0 && isCandidate(chosen)
          ? (float) (candidates.logit(chosen) - processedLse) : Float.NEGATIVE_INFINITY;
    } else {
      r.processedLogprob = (float) (candidates.logit(chosen) - processedLse);
    }
    if (n > 0 && chain.processedLogprobs()) {
      if (deterministic) {
        r.topIds = drawn >= 0 ? new int[] {drawn} : new int[0];
        r.topLogprobs = drawn >= 0 ? new float[] {0f} : new float[0];
      } else if (drawn >= 0) {
        processedAlternatives(r, n, processedLse);
      }
    }
    candidates.restoreShared(); // raw[] is the raw row again
    float chosenRaw = raw[chosen];
    r.logprob = (float) (chosenRaw - rawLse);
    if (n > 0 && !chain.processedLogprobs()) {
      rawAlternatives(r, n, rawLse);
    }
    r.rank = rankFromTop(chosenRaw);
    if (r.rank < 0) {
      r.rank = kernels.countAtLeast(raw, vocab, chosenRaw);
    }
    if (!scoring) { // a given token never ends the sequence: the client placed it
      finish(chain.ends(), history, chosen, r);
    }
    if (chain.explain()) {
      explain(chain, vocab, row, chosen, r);
    }
    return r;
  }

  /**
   * A scored row's chain: every processor, and the selector only when it is deterministic (its
   * choice is then the processed distribution). Returns the selector's choice, 0 when it did not
   * run, or -1 when the processors left no candidate (the target's processed logprob is then -inf).
   */
  private int processors(Chain chain, int vocab, int row, boolean deterministic) {
    for (Stage stage : chain.processors()) {
      apply(stage, row);
    }
    if (!(candidates.maxLogit() > Float.NEGATIVE_INFINITY)) {
      return -1;
    }
    return deterministic ? select(chain.selector(), vocab, row) : 0;
  }

  private void finish(EndRules ends, TokenLog history, int chosen, RowResult r) {
    if (ends.isEos(chosen)) {
      r.finish = RowResult.Finish.EOS_TOKEN;
    } else if (ends.isStop(chosen)) {
      r.finish = RowResult.Finish.STOP_TOKEN;
    } else if (!ends.stopStrings().isEmpty()) {
      long match = stopMatcher.find(ends.stopStrings(), ends.vocabulary(), history, chosen);
      if (match >= 0) {
        r.finish = RowResult.Finish.STOP_STRING;
        r.stopString = ends.stopStrings().strings().get((int) (match >>> 32));
        r.stopStringTrailingBytes = (int) match;
      }
    }
  }

  /** Checks the scanned row (no NaN, no +Inf, something finite) and returns its max. */
  private float checkedMax(float max, int row, int vocab) {
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
   * The chosen token's raw rank (how many tokens have a raw logit at least its own) read off the
   * scan's top list, or -1 when the list cannot tell. A token above the list's last value has
   * every token at or above it in the list (the list holds the best ones, or every finite logit
   * when there are fewer): no pass over the vocabulary is needed.
   */
  private int rankFromTop(float chosenRaw) {
    int count = scan.topCount();
    long[] keys = scan.topKeys();
    boolean full = count == scan.keep();
    if (chosenRaw == Float.NEGATIVE_INFINITY
        || (full && !(chosenRaw > TopKeys.logit(keys[count - 1])))) {
      return -1;
    }
    int rank = 0;
    while (rank < count && TopKeys.logit(keys[rank]) >= chosenRaw) {
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
    if (e instanceof TokenRejectedException) { // a token the client sent, not a broken stage
      return new TallyException(ErrorCode.INVALID_PARAMS, null, "row " + row + ": "
          + stage.name() + ": " + e.getMessage());
    }
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

  /** The n best raw tokens (logit descending, id ascending) off the scan's list, as logprobs. */
  private void rawAlternatives(RowResult r, int n, double rawLse) {
    int count = Math.min(n, scan.topCount());
    long[] keys = scan.topKeys();
    r.topIds = new int[count];
    r.topLogprobs = new float[count];
    for (int i = 0; i < count; i++) {
      r.topIds[i] = TopKeys.id(keys[i]);
      r.topLogprobs[i] = (float) (raw[r.topIds[i]] - rawLse);
    }
  }

  /**
   * The n best candidates after the chain, as processed logprobs. Runs last on the candidates: it
   * narrows their list to those n.
   */
  private void processedAlternatives(RowResult r, int n, double processedLse) {
    candidates.keepTop(n);
    int count = candidates.size();
    r.topIds = new int[count];
    r.topLogprobs = new float[count];
    for (int i = 0; i < count; i++) {
      int id = candidates.id(i);
      r.topIds[i] = id;
      r.topLogprobs[i] = (float) (candidates.logit(id) - processedLse);
    }
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
    } else if (r.scored()) {
      last = "target"; // nothing is drawn: the last stage is the given token
    } else {
      select(chain.selector(), vocab, row);
      last = chain.selector().name();
    }
    RowResult.StageTrace end = trace(last, chosen);
    double chosenP = r.scored() ? Math.exp(r.processedLogprob)
        : isDeterministic(chain) ? 1.0 : end.chosenProbability;
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
