package dev.tally.core.session;

import dev.tally.core.engine.TokenLog;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.Chain;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.random.CounterRandom;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The sequences of one {@code Session} stream, and the registry changes of each step.
 *
 * <p>A step's changes are validated as a whole before any is applied: a bad step leaves the
 * registry exactly as it was, so the client can fix it and go on. Confined to one thread at a
 * time (the session's steps run in order).
 */
public final class SessionState {
  /**
   * One registered sequence: its compiled chain, its history and its seed. The chain is the
   * sequence's own ({@link Chain#forSequence()}): its stateful stages keep their state here, and it
   * is freed with the sequence.
   */
  public static final class Sequence {
    private final long id;
    private final Chain base;
    private Chain chain;
    private final TokenLog history;
    private final long seed;
    private double cumulativeLogprob;

    /** A new sequence: {@code chain} is the compiled one; the sequence binds its own copy. */
    Sequence(long id, Chain chain, TokenLog history, long seed, double cumulativeLogprob) {
      this(chain, chain.forSequence(), id, history, seed, cumulativeLogprob);
    }

    private Sequence(Chain base, Chain bound, long id, TokenLog history, long seed,
        double cumulativeLogprob) {
      this.id = id;
      this.base = base;
      this.chain = bound;
      this.history = history;
      this.seed = seed;
      this.cumulativeLogprob = cumulativeLogprob;
    }

    /** A deep copy under {@code childId}: history, cumulative logprob and every stage's state. */
    Sequence fork(long childId, long childSeed) {
      return new Sequence(base, chain.fork(), childId, history.copy(), childSeed,
          cumulativeLogprob);
    }

    /**
     * The sequence's compiled chain without its per-sequence state: for rows that are not the
     * sequence's next token (prompt scores), whose stateful stages build their state from the
     * row's own history, as in {@code Sample}.
     */
    public Chain baseChain() {
      return base;
    }

    /**
     * Adds an output token's raw logprob to the sequence's sum and returns the new sum ({@code
     * TokenChoice.cumulative_logprob}).
     */
    public double addLogprob(float logprob) {
      cumulativeLogprob += logprob;
      return cumulativeLogprob;
    }

    public long id() {
      return id;
    }

    /** The sequence's chain, with its stage states. */
    public Chain chain() {
      return chain;
    }

    /**
     * Replaces the sequence's stage states with fresh, empty ones, rebuilt from the history at its
     * next row. For a row abandoned past its deadline: the thread still running it may hold the old
     * states, so they are let go rather than reset in place.
     */
    public void discardState() {
      chain = chain.forSequence();
    }

    public TokenLog history() {
      return history;
    }

    public long seed() {
      return seed;
    }
  }

  private final Map<Long, Sequence> sequences = new HashMap<>();
  private final ChainCompiler compiler;
  private final int maxSequences;
  private final int maxForks;
  private final LongSupplier seeds;

  /**
   * @param maxSequences the most sequences the session may hold at once
   * @param seeds where sequences without a seed get one (the server: {@code SecureRandom})
   */
  public SessionState(ChainCompiler compiler, int maxSequences, LongSupplier seeds) {
    this(compiler, maxSequences, maxSequences, seeds);
  }

  /**
   * @param maxSequences the most sequences the session may hold at once
   * @param maxForks the most forks one step may make
   * @param seeds where sequences without a seed get one (the server: {@code SecureRandom})
   */
  public SessionState(ChainCompiler compiler, int maxSequences, int maxForks,
      LongSupplier seeds) {
    this.compiler = compiler;
    this.maxSequences = maxSequences;
    this.maxForks = maxForks;
    this.seeds = seeds;
  }

  /** Number of registered sequences. */
  public int size() {
    return sequences.size();
  }

  /** The registered sequence, or {@code null}. */
  public Sequence get(long id) {
    return sequences.get(id);
  }

  /**
   * Applies a step's registry changes in DESIGN order (add, remove, append) and resolves its row
   * map, or changes nothing and throws.
   *
   * @param rows the number of rows the step's logits hold
   * @return the sequence of each row
   * @throws TallyException naming the offending field
   */
  public Sequence[] apply(List<SequenceSpec> added, long[] removed, List<AppendedTokens> appended,
      long[] rowSequenceIds, int rows) {
    return begin(added, removed, appended, rowSequenceIds, rows).rows();
  }

  /**
   * A step whose registry changes are applied but can still be undone: the session answers a step
   * that then fails as a whole (the sampler pool refused it, an internal error) with an error, and
   * the proto promises that such a step changed nothing. Call {@link Step#rollback()} then; a
   * step that succeeds needs nothing more. Only the latest step may be rolled back, and only before
   * the next one begins.
   */
  public final class Step {
    private final Sequence[] rows;
    private final int[][] drafts;
    private final PromptScoreSpec[] scores;
    private final Map<Long, Sequence> added;
    private final Map<Long, Sequence> removed;
    private final Sequence[] appendedTo;
    private final int[] lengthsBefore;

    private Step(Sequence[] rows, int[][] drafts, PromptScoreSpec[] scores,
        Map<Long, Sequence> added, Map<Long, Sequence> removed, Sequence[] appendedTo,
        int[] lengthsBefore) {
      this.rows = rows;
      this.drafts = drafts;
      this.scores = scores;
      this.added = added;
      this.removed = removed;
      this.appendedTo = appendedTo;
      this.lengthsBefore = lengthsBefore;
    }

    /** The sequence of each row (a drafted sequence's, on each of its k + 1 rows). */
    public Sequence[] rows() {
      return rows;
    }

    /**
     * The draft tokens of the block that starts at {@code row}, or {@code null} when no block
     * starts there (an ordinary row, or a later row of a block).
     */
    public int[] draftAt(int row) {
      return drafts[row];
    }

    /** The prompt score whose rows start at {@code row}, or {@code null}. */
    public PromptScoreSpec promptScoreAt(int row) {
      return scores[row];
    }

    /**
     * Undoes the step: the added sequences go, the removed ones come back, the appended tokens
     * (and any token sampled since) are cut off, and the stage states of every touched sequence
     * are let go, to be rebuilt from the restored history at the next row (a row may have run).
     */
    public void rollback() {
      for (int i = appendedTo.length - 1; i >= 0; i--) {
        appendedTo[i].history.truncate(lengthsBefore[i]);
      }
      sequences.keySet().removeAll(added.keySet());
      sequences.putAll(removed);
      for (Sequence s : rows) {
        s.discardState();
      }
      for (Sequence s : appendedTo) {
        s.discardState();
      }
    }
  }

  /**
   * Like {@link #apply}, but returns a {@link Step} that can be rolled back.
   *
   * @throws TallyException naming the offending field; nothing was changed then
   */
  public Step begin(List<SequenceSpec> added, long[] removed, List<AppendedTokens> appended,
      long[] rowSequenceIds, int rows) {
    return begin(added, List.of(), removed, appended, rowSequenceIds, rows);
  }

  /**
   * Like {@link #begin(List, long[], List, long[], int)}, with {@code forks} copied after {@code
   * added} and before {@code removed}.
   *
   * @throws TallyException naming the offending field; nothing was changed then
   */
  public Step begin(List<SequenceSpec> added, List<ForkSpec> forks, long[] removed,
      List<AppendedTokens> appended, long[] rowSequenceIds, int rows) {
    return begin(added, forks, removed, appended, List.of(), rowSequenceIds, rows);
  }

  /** The most draft tokens one block may hold ({@code Limits.max_draft_tokens}). */
  public static final int MAX_DRAFT_TOKENS = 64;

  /**
   * Like {@link #begin(List, List, long[], List, long[], int)}, with draft blocks: a drafted
   * sequence owns k + 1 consecutive rows, and {@link Step#draftAt} tells where each block starts.
   *
   * @throws TallyException naming the offending field; nothing was changed then
   */
  public Step begin(List<SequenceSpec> added, List<ForkSpec> forks, long[] removed,
      List<AppendedTokens> appended, List<DraftSpec> drafts, long[] rowSequenceIds, int rows) {
    return begin(added, forks, removed, appended, drafts, List.of(), rowSequenceIds, rows);
  }

  /**
   * Like {@link #begin(List, List, long[], List, List, long[], int)}, with prompt scores: a scored
   * sequence owns {@code count} consecutive rows, and {@link Step#promptScoreAt} tells where.
   *
   * @throws TallyException naming the offending field; nothing was changed then
   */
  public Step begin(List<SequenceSpec> added, List<ForkSpec> forks, long[] removed,
      List<AppendedTokens> appended, List<DraftSpec> drafts, List<PromptScoreSpec> scores,
      long[] rowSequenceIds, int rows) {
    // Validate everything against a view of the registry after the step; mutate only at the end.
    Map<Long, Sequence> fresh = new HashMap<>();
    for (int i = 0; i < added.size(); i++) {
      SequenceSpec spec = added.get(i);
      String field = "added[" + i + "]";
      if (sequences.containsKey(spec.id()) || fresh.containsKey(spec.id())) {
        throw new TallyException(ErrorCode.DUPLICATE_SEQUENCE, field + ".id",
            "sequence " + Long.toUnsignedString(spec.id()) + " is already registered");
      }
      Chain chain;
      try {
        chain = compiler.compile(spec.config());
      } catch (TallyException e) {
        throw e.under(field + ".params");
      }
      TokenLog history;
      try {
        history = TokenLog.of(spec.promptTokenIds(), spec.outputTokenIds());
      } catch (IllegalArgumentException e) {
        throw TallyException.invalidParams(field, field + ": " + e.getMessage());
      }
      long seed = chain.seed() != null ? chain.seed() : seeds.getAsLong();
      fresh.put(spec.id(), new Sequence(spec.id(), chain, history, seed,
          spec.cumulativeLogprob()));
    }
    forks(forks, fresh);
    Set<Long> gone = new HashSet<>();
    for (int i = 0; i < removed.length; i++) {
      long id = removed[i];
      boolean known = (sequences.containsKey(id) || fresh.containsKey(id)) && !gone.contains(id);
      if (!known) {
        throw new TallyException(ErrorCode.UNKNOWN_SEQUENCE, "removed[" + i + "]",
            "removed[" + i + "]: sequence " + Long.toUnsignedString(id) + " is not registered");
      }
      gone.add(id);
    }
    int after = sequences.size() + fresh.size() - gone.size();
    if (after > maxSequences) {
      throw new TallyException(ErrorCode.LIMIT_EXCEEDED, "added",
          "the session would hold " + after + " sequences; the limit (max_sequences_per_session) is "
              + maxSequences);
    }
    for (int i = 0; i < appended.size(); i++) {
      AppendedTokens a = appended.get(i);
      if (lookup(a.sequenceId(), fresh, gone) == null) {
        throw new TallyException(ErrorCode.UNKNOWN_SEQUENCE, "appended[" + i + "].sequence_id",
            "appended[" + i + "]: sequence " + Long.toUnsignedString(a.sequenceId())
                + " is not registered");
      }
      for (int t : a.tokenIds()) {
        if (t < 0) {
          throw TallyException.invalidParams("appended[" + i + "].token_ids",
              "appended[" + i + "] holds a negative token id: " + t);
        }
      }
    }
    if (rowSequenceIds.length != rows) {
      throw new TallyException(ErrorCode.INVALID_TENSOR, "row_sequence_ids",
          "row_sequence_ids has " + rowSequenceIds.length + " entries but logits.rows is " + rows);
    }
    Map<Long, Block> owned = new HashMap<>();
    drafts(drafts, fresh, gone, owned);
    promptScores(scores, fresh, gone, owned);
    Sequence[] rowSequences = new Sequence[rows];
    int[][] draftRows = new int[rows][];
    PromptScoreSpec[] scoreRows = new PromptScoreSpec[rows];
    Set<Long> seen = new HashSet<>();
    for (int i = 0; i < rows; i++) {
      long id = rowSequenceIds[i];
      Sequence s = lookup(id, fresh, gone);
      if (s == null) {
        throw new TallyException(ErrorCode.UNKNOWN_SEQUENCE, "row_sequence_ids[" + i + "]",
            "row_sequence_ids[" + i + "]: sequence " + Long.toUnsignedString(id)
                + " is not registered");
      }
      if (!seen.add(id)) {
        throw TallyException.invalidParams("row_sequence_ids[" + i + "]",
            "row_sequence_ids[" + i + "]: sequence " + Long.toUnsignedString(id)
                + " appears in more than one row of the step"
                + (owned.containsKey(id) ? " outside its " + owned.get(id).what() : ""));
      }
      rowSequences[i] = s;
      Block block = owned.get(id);
      if (block != null) {
        int end = i;
        while (end + 1 < rows && rowSequenceIds[end + 1] == id && end - i + 1 < block.rows()) {
          rowSequences[++end] = s;
        }
        if (end - i + 1 != block.rows()) {
          throw TallyException.invalidParams("row_sequence_ids[" + i + "]", "row_sequence_ids["
              + i + "]: sequence " + Long.toUnsignedString(id) + " has " + block.what() + " ("
              + block.field() + "), so it needs " + block.rows() + " consecutive rows; it has "
              + (end - i + 1));
        }
        draftRows[i] = block.draft();
        scoreRows[i] = block.score();
        i = end;
      }
    }
    for (Map.Entry<Long, Block> b : owned.entrySet()) {
      if (!seen.contains(b.getKey())) {
        throw TallyException.invalidParams(b.getValue().field() + ".sequence_id",
            b.getValue().field() + ": sequence " + Long.toUnsignedString(b.getKey())
                + " has no rows in this step");
      }
    }

    Map<Long, Sequence> removedNow = new HashMap<>();
    for (long id : gone) {
      Sequence old = sequences.get(id);
      if (old != null) { // a sequence added and removed in the same step was never registered
        removedNow.put(id, old);
      }
    }
    // Rows of the step before it: the sampled token of each row is appended to its history after
    // a successful step; a rollback cuts it off with the appended tokens.
    Sequence[] touched = new Sequence[appended.size() + rows];
    int[] lengths = new int[touched.length];
    sequences.putAll(fresh);
    sequences.keySet().removeAll(gone);
    int n = 0;
    for (AppendedTokens a : appended) {
      Sequence s = sequences.get(a.sequenceId());
      touched[n] = s;
      lengths[n++] = s.history().length();
      for (int t : a.tokenIds()) {
        s.history().append(t);
      }
    }
    for (Sequence s : rowSequences) {
      touched[n] = s;
      lengths[n++] = s.history().length();
    }
    Map<Long, Sequence> addedNow = new HashMap<>(fresh);
    addedNow.keySet().removeAll(gone);
    return new Step(rowSequences, draftRows, scoreRows, addedNow, removedNow, touched, lengths);
  }

  /**
   * Copies each fork's parent, as it stands after {@code added} (or an earlier fork's child), into
   * {@code fresh}. Copies are made while validating: they touch nothing registered, so a step that
   * fails later just drops them.
   */
  private void forks(List<ForkSpec> forks, Map<Long, Sequence> fresh) {
    if (forks.size() > maxForks) {
      throw new TallyException(ErrorCode.LIMIT_EXCEEDED, "forks", "the step has " + forks.size()
          + " forks; the limit (max_fork_children_per_step) is " + maxForks);
    }
    for (int i = 0; i < forks.size(); i++) {
      ForkSpec f = forks.get(i);
      String field = "forks[" + i + "]";
      Sequence parent = fresh.containsKey(f.parentId()) ? fresh.get(f.parentId())
          : sequences.get(f.parentId());
      if (parent == null) {
        throw new TallyException(ErrorCode.UNKNOWN_SEQUENCE, field + ".parent_id", field
            + ": sequence " + Long.toUnsignedString(f.parentId()) + " is not registered");
      }
      if (sequences.containsKey(f.childId()) || fresh.containsKey(f.childId())) {
        throw new TallyException(ErrorCode.DUPLICATE_SEQUENCE, field + ".child_id", field
            + ": sequence " + Long.toUnsignedString(f.childId()) + " is already registered");
      }
      for (int t : f.appendTokenIds()) {
        if (t < 0) {
          throw TallyException.invalidParams(field + ".append_token_ids",
              field + ".append_token_ids holds a negative token id: " + t);
        }
      }
      long seed = f.seed() != null ? f.seed() : f.sampleIndex() != null
          ? CounterRandom.deriveSeed(parent.seed(), f.sampleIndex()) : parent.seed();
      Sequence child = parent.fork(f.childId(), seed);
      for (int t : f.appendTokenIds()) {
        child.history().append(t);
      }
      fresh.put(f.childId(), child);
    }
  }

  /**
   * The consecutive rows one sequence owns in a step: a draft block ({@code draft}) or a prompt
   * score ({@code score}); {@code what} describes it for messages.
   */
  private record Block(String field, int rows, String what, int[] draft, PromptScoreSpec score) {}

  /** Checks the draft blocks and records the rows each drafted sequence owns. */
  private void drafts(List<DraftSpec> drafts, Map<Long, Sequence> fresh, Set<Long> gone,
      Map<Long, Block> out) {
    for (int i = 0; i < drafts.size(); i++) {
      DraftSpec d = drafts.get(i);
      String field = "drafts[" + i + "]";
      if (lookup(d.sequenceId(), fresh, gone) == null) {
        throw new TallyException(ErrorCode.UNKNOWN_SEQUENCE, field + ".sequence_id", field
            + ": sequence " + Long.toUnsignedString(d.sequenceId()) + " is not registered");
      }
      int k = d.tokenIds().length;
      if (out.putIfAbsent(d.sequenceId(), new Block("drafts[" + i + "]", k + 1,
          "a draft block of " + k + " tokens", d.tokenIds(), null)) != null) {
        throw TallyException.invalidParams(field + ".sequence_id", field + ": sequence "
            + Long.toUnsignedString(d.sequenceId()) + " already has a draft block in this step");
      }
      if (k == 0 || k > MAX_DRAFT_TOKENS) {
        throw new TallyException(k == 0 ? ErrorCode.INVALID_PARAMS : ErrorCode.LIMIT_EXCEEDED,
            field + ".token_ids", field + " has " + k + " tokens; a block holds 1 to "
                + MAX_DRAFT_TOKENS + " (max_draft_tokens)");
      }
      for (int t : d.tokenIds()) {
        if (t < 0) {
          throw TallyException.invalidParams(field + ".token_ids",
              field + ".token_ids holds a negative token id: " + t);
        }
      }
    }
  }

  /** Checks the prompt scores and records the rows each scored sequence owns. */
  private void promptScores(List<PromptScoreSpec> scores, Map<Long, Sequence> fresh,
      Set<Long> gone, Map<Long, Block> out) {
    for (int i = 0; i < scores.size(); i++) {
      PromptScoreSpec p = scores.get(i);
      String field = "prompt_scores[" + i + "]";
      Sequence s = lookup(p.sequenceId(), fresh, gone);
      if (s == null) {
        throw new TallyException(ErrorCode.UNKNOWN_SEQUENCE, field + ".sequence_id", field
            + ": sequence " + Long.toUnsignedString(p.sequenceId()) + " is not registered");
      }
      int prompt = s.history().promptLength();
      if (p.count() < 1 || p.start() < 0 || (long) p.start() + p.count() >= prompt) {
        throw TallyException.invalidParams(field + ".count", field + " scores prompt tokens "
            + ((long) p.start() + 1) + " to " + ((long) p.start() + p.count()) + ", but the"
            + " prompt of sequence " + Long.toUnsignedString(p.sequenceId()) + " has " + prompt
            + " tokens (0 to " + (prompt - 1) + "; token 0 is never scored) and count must be"
            + " at least 1");
      }
      if (out.putIfAbsent(p.sequenceId(), new Block(field, p.count(), "a prompt score of "
          + p.count() + " rows", null, p)) != null) {
        throw TallyException.invalidParams(field + ".sequence_id", field + ": sequence "
            + Long.toUnsignedString(p.sequenceId())
            + " already has a draft block or a prompt score in this step");
      }
    }
  }

  /** Frees every sequence (the stream ended). */
  public void clear() {
    sequences.clear();
  }

  private Sequence lookup(long id, Map<Long, Sequence> fresh, Set<Long> gone) {
    if (gone.contains(id)) {
      return null;
    }
    Sequence s = sequences.get(id);
    return s != null ? s : fresh.get(id);
  }
}
