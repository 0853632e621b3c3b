package dev.tally.core.pipeline;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.vocab.Vocabulary;
import java.util.List;

/**
 * A compiled sampling chain: the processors in order, the selector, and what the row result needs
 * (end tokens, logprob settings). As compiled it is immutable and may be shared by every row and
 * step that uses it; stateful stages then rebuild their state from each row's history.
 *
 * <p>{@link #forSequence()} gives a {@code Session} sequence its own copy in which every stateful
 * stage keeps its {@link dev.tally.spi.SequenceState} across steps. The state-handling methods
 * ({@link #saveState}, {@link #restoreState}, {@link #resetState}) act on such a copy only and,
 * like the rows that use it, must not overlap with a row of the same sequence.
 */
public final class Chain {
  private final List<Stage> processors;
  private final Stage selector;
  private final EndRules ends;
  private final int topLogprobs;
  private final boolean processedLogprobs;
  private final boolean explain;
  private final Long seed;
  private final int maxTokenId;
  private final String maxTokenField;
  private final int[] labelTokenIds;
  private final int rawTopHint;

  Chain(List<Stage> processors, Stage selector, EndRules ends, int topLogprobs,
      boolean processedLogprobs, boolean explain, Long seed, int maxTokenId, String maxTokenField, int[] labelTokenIds, int rawTopHint) {
    this.processors = List.copyOf(processors);
    this.selector = selector;
    this.ends = ends;
    this.topLogprobs = topLogprobs;
    this.processedLogprobs = processedLogprobs;
    this.explain = explain;
    this.seed = seed;
    this.maxTokenId = maxTokenId;
    this.maxTokenField = maxTokenField;
    this.labelTokenIds = labelTokenIds.clone();
    this.rawTopHint = rawTopHint;
  }

  /** The same chain with its stages replaced; every other setting is shared. */
  private Chain(Chain base, List<Stage> processors, Stage selector) {
    this.processors = List.copyOf(processors);
    this.selector = selector;
    this.ends = base.ends;
    this.topLogprobs = base.topLogprobs;
    this.processedLogprobs = base.processedLogprobs;
    this.explain = base.explain;
    this.seed = base.seed;
    this.maxTokenId = base.maxTokenId;
    this.maxTokenField = base.maxTokenField;
    this.labelTokenIds = base.labelTokenIds;
    this.rawTopHint = base.rawTopHint;
  }

  // Built-in truncations only narrow the candidate list, never writing a logit: the raw row's
  // softmax terms stay valid through them. Of those, these read the terms (mass, not just max).
  private static final java.util.Set<String> LIST_ONLY_BUILTINS =
      java.util.Set.of("top_k", "top_p", "min_p", "typical_p", "top_n_sigma");
  private static final java.util.Set<String> TERM_READERS = java.util.Set.of("top_p");

  /**
   * Whether the raw row's softmax terms are worth keeping for the chain: a stage that reads them
   * (top-p's mass), or the draw, comes before any stage that writes a logit. The engine then writes
   * them in its Σexp pass, and those stages read instead of computing exps.
   */
  public boolean readsRawTerms() {
    for (Stage stage : processors) {
      if (!isBuiltin(stage) || !LIST_ONLY_BUILTINS.contains(stage.name())) {
        return false;
      }
      if (TERM_READERS.contains(stage.name())) {
        return true;
      }
    }
    return selector != null && isBuiltin(selector) && "draw".equals(selector.name());
  }

  private static boolean isBuiltin(Stage stage) {
    return dev.tally.core.processor.BuiltinPlugin.NAME.equals(stage.plugin());
  }

  /** Whether any stage keeps per-sequence state. */
  public boolean isStateful() {
    for (Stage s : processors) {
      if (s.isStateful()) {
        return true;
      }
    }
    return selector != null && selector.isStateful();
  }

  /**
   * The chain for one sequence: each stateful stage gets its own empty state slot, filled from the
   * history at the sequence's first row. A chain without stateful stages is returned as it is.
   * Calling it on a sequence's chain gives fresh, empty slots again.
   */
  public Chain forSequence() {
    if (!isStateful()) {
      return this;
    }
    List<Stage> bound = new java.util.ArrayList<>(processors.size());
    for (Stage s : processors) {
      bound.add(s.bind());
    }
    return new Chain(this, bound, selector == null ? null : selector.bind());
  }

  /**
   * A sequence's chain for a copy of the sequence (a fork): every stage gets its own slot holding a
   * {@link dev.tally.spi.SequenceState#copy copy} of this chain's state, at the same position in
   * the history. A state whose copy throws is left for the child to rebuild from its history.
   * Runs plugin code on the caller's thread.
   */
  public Chain fork() {
    Chain child = forSequence();
    if (child == this) {
      return this; // nothing stateful: the chain is shared
    }
    List<StateSlot> from = slots();
    List<StateSlot> to = child.slots();
    for (int i = 0; i < from.size(); i++) {
      to.get(i).copyFrom(from.get(i));
    }
    return child;
  }

  /**
   * A copy of every stage's state ({@link dev.tally.spi.SequenceState#copy}) and of how much of
   * the history each has accepted: a checkpoint to {@link #restoreState roll back} to, e.g. around
   * speculative tokens. Runs plugin code on the caller's thread.
   */
  public SavedState saveState() {
    List<StateSlot.Saved> saved = new java.util.ArrayList<>();
    for (StateSlot slot : slots()) {
      saved.add(slot.save());
    }
    return new SavedState(this, saved);
  }

  /** Returns every stage's state to a checkpoint of this chain (the checkpoint stays reusable). */
  public void restoreState(SavedState saved) {
    if (saved.chain != this) {
      throw new IllegalArgumentException("the saved state belongs to another sequence's chain");
    }
    List<StateSlot> slots = slots();
    for (int i = 0; i < slots.size(); i++) {
      slots.get(i).restore(saved.slots.get(i));
    }
  }

  /**
   * {@link dev.tally.spi.SequenceState#reset Resets} every stage's state to what it was built
   * with; the tokens accepted since are replayed from the history before the next row.
   */
  public void resetState() {
    for (StateSlot slot : slots()) {
      slot.reset();
    }
  }

  private List<StateSlot> slots() {
    List<StateSlot> out = new java.util.ArrayList<>();
    for (Stage s : processors) {
      if (s.slot() != null) {
        out.add(s.slot());
      }
    }
    if (selector != null && selector.slot() != null) {
      out.add(selector.slot());
    }
    return out;
  }

  /** A checkpoint of a sequence chain's stage states; see {@link #saveState()}. */
  public static final class SavedState {
    private final Chain chain;
    private final List<StateSlot.Saved> slots;

    private SavedState(Chain chain, List<StateSlot.Saved> slots) {
      this.chain = chain;
      this.slots = List.copyOf(slots);
    }
  }

  public List<Stage> processors() {
    return processors;
  }

  /** The selector, or {@code null} for a label-scoring chain. */
  public Stage selector() {
    return selector;
  }

  /** Label scoring: the labels in request order; empty when the row is sampled. */
  public int[] labelTokenIds() {
    return labelTokenIds.clone();
  }

  /** Whether the row is scored over labels instead of drawn. */
  public boolean scoresLabels() {
    return labelTokenIds.length > 0;
  }

  /** EOS and stop tokens, stop strings, and the vocabulary they read. */
  public EndRules ends() {
    return ends;
  }

  /**
   * The k of the chain's first top_k when only built-in stages come before it, else 0. The engine
   * then keeps a raw top list a little longer than k, from which {@code Candidates.keepTop} takes
   * the answer without another pass over the row while the stages before wrote only a few tokens.
   */
  public int rawTopHint() {
    return rawTopHint;
  }

  public int topLogprobs() {
    return topLogprobs;
  }

  public boolean processedLogprobs() {
    return processedLogprobs;
  }

  public boolean explain() {
    return explain;
  }

  /** The request's seed, or {@code null} when the server must choose one. */
  public Long seed() {
    return seed;
  }

  /**
   * Checks that every token id the chain's parameters name exists in a {@code vocabSize}
   * vocabulary.
   *
   * @throws TallyException {@link ErrorCode#INVALID_PARAMS} naming the field
   */
  public void checkVocabulary(int vocabSize) {
    if (maxTokenId >= vocabSize) {
      throw new TallyException(ErrorCode.INVALID_PARAMS, maxTokenField,
          maxTokenField + " names token id " + maxTokenId + ", outside the vocabulary of "
              + vocabSize);
    }
    Vocabulary named = ends.vocabulary();
    if (named != null && named.size() > vocabSize) {
      throw new TallyException(ErrorCode.INVALID_PARAMS, "vocabulary", "vocabulary '"
          + named.name() + "' has " + named.size() + " tokens but the logits are only " + vocabSize
          + " wide; a vocabulary may be narrower than the logits (padding), never wider");
    }
  }
}
