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
    private Chain chain;
    private final TokenLog history;
    private final long seed;
    private double cumulativeLogprob;

    /** A new sequence: {@code chain} is the compiled one; the sequence binds its own copy. */
    Sequence(long id, Chain chain, TokenLog history, long seed, double cumulativeLogprob) {
      this(chain.forSequence(), id, history, seed, cumulativeLogprob);
    }

    private Sequence(Chain bound, long id, TokenLog history, long seed,
        double cumulativeLogprob) {
      this.id = id;
      this.chain = bound;
      this.history = history;
      this.seed = seed;
      this.cumulativeLogprob = cumulativeLogprob;
    }

    /** A deep copy under {@code childId}: history, cumulative logprob and every stage's state. */
    Sequence fork(long childId, long childSeed) {
      return new Sequence(chain.fork(), childId, history.copy(), childSeed, cumulativeLogprob);
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
    private final Map<Long, Sequence> added;
    private final Map<Long, Sequence> removed;
    private final Sequence[] appendedTo;
    private final int[] lengthsBefore;

    private Step(Sequence[] rows, int[][] drafts, Map<Long, Sequence> added,
        Map<Long, Sequence> removed, Sequence[] appendedTo, int[] lengthsBefore) {
      this.rows = rows;
      this.drafts = drafts;
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
    Map<Long, Integer> drafted = drafts(drafts, fresh, gone);
    Sequence[] rowSequences = new Sequence[rows];
    int[][] blocks = new int[rows][];
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
                + (drafted.containsKey(id) ? " outside its draft block" : ""));
      }
      rowSequences[i] = s;
      Integer block = drafted.get(id);
      if (block != null) {
        int[] tokens = drafts.get(block).tokenIds();
        int end = i;
        while (end + 1 < rows && rowSequenceIds[end + 1] == id && end - i < tokens.length) {
          rowSequences[++end] = s;
        }
        if (end - i != tokens.length) {
          throw TallyException.invalidParams("row_sequence_ids[" + i + "]", "row_sequence_ids["
              + i + "]: sequence " + Long.toUnsignedString(id) + " has " + tokens.length
              + " draft tokens (drafts[" + block + "]), so it needs " + (tokens.length + 1)
              + " consecutive rows; it has " + (end - i + 1));
        }
        blocks[i] = tokens;
        i = end;
      }
    }
    for (Map.Entry<Long, Integer> d : drafted.entrySet()) {
      if (!seen.contains(d.getKey())) {
        throw TallyException.invalidParams("drafts[" + d.getValue() + "].sequence_id", "drafts["
            + d.getValue() + "]: sequence " + Long.toUnsignedString(d.getKey())
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
    return new Step(rowSequences, blocks, addedNow, removedNow, touched, lengths);
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

  /** Checks the draft blocks; returns each drafted sequence's block index. */
  private Map<Long, Integer> drafts(List<DraftSpec> drafts, Map<Long, Sequence> fresh,
      Set<Long> gone) {
    Map<Long, Integer> out = new HashMap<>();
    for (int i = 0; i < drafts.size(); i++) {
      DraftSpec d = drafts.get(i);
      String field = "drafts[" + i + "]";
      if (lookup(d.sequenceId(), fresh, gone) == null) {
        throw new TallyException(ErrorCode.UNKNOWN_SEQUENCE, field + ".sequence_id", field
            + ": sequence " + Long.toUnsignedString(d.sequenceId()) + " is not registered");
      }
      if (out.putIfAbsent(d.sequenceId(), i) != null) {
        throw TallyException.invalidParams(field + ".sequence_id", field + ": sequence "
            + Long.toUnsignedString(d.sequenceId()) + " already has a draft block in this step");
      }
      int k = d.tokenIds().length;
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
    return out;
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
