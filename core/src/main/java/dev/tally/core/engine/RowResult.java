package dev.tally.core.engine;

import dev.tally.core.error.TallyException;
import java.util.ArrayList;
import java.util.List;

/** What sampling one row produced: the token and its logprobs, or an error. */
public final class RowResult {
  /** Why a sequence ends with this token. */
  public enum Finish {
    NONE,
    STOP_TOKEN,
    EOS_TOKEN,
    STOP_STRING
  }

  /** One stage's effect, for explain mode. */
  public static final class StageTrace {
    public final String name;
    public final int candidates;
    public final double entropy;
    public final double chosenProbability;
    public final float topLogitGap;

    StageTrace(String name, int candidates, double entropy, double chosenProbability,
        float topLogitGap) {
      this.name = name;
      this.candidates = candidates;
      this.entropy = entropy;
      this.chosenProbability = chosenProbability;
      this.topLogitGap = topLogitGap;
    }
  }

  int tokenId = -1;
  float logprob;
  float processedLogprob;
  int rank;
  int[] topIds = new int[0];
  float[] topLogprobs = new float[0];
  Finish finish = Finish.NONE;
  long seed;
  TallyException error;
  List<StageTrace> stages = new ArrayList<>();
  int[] labelIds = new int[0];
  float[] labelLogprobs = new float[0];
  float topLogitGap;
  String stopString;
  int stopStringTrailingBytes;
  boolean greedy;
  Verdict verdict = Verdict.DRAWN;
  float acceptanceProbability;

  /** How a row's token came to be. */
  public enum Verdict {
    /** Drawn by the chain: an ordinary row. */
    DRAWN,
    /** Given (teacher forcing) and scored rather than drawn. */
    SCORED,
    /** A draft row whose draw equals the draft token. */
    ACCEPTED,
    /** The first draft row whose draw differs from the draft token: the draw replaces it. */
    CORRECTED,
    /** The row after a fully accepted draft. */
    BONUS,
    /** A row after its draft block ended: not sampled. */
    DISCARDED
  }

  /** Whether the token is the raw argmax (ties to the lowest id). */
  public boolean isGreedy() {
    return greedy;
  }

  public Verdict verdict() {
    return verdict;
  }

  /** Whether the token was given (teacher forcing) and scored rather than drawn. */
  public boolean scored() {
    return verdict == Verdict.SCORED;
  }

  /**
   * For an {@link Verdict#ACCEPTED} or {@link Verdict#CORRECTED} row: the probability the row's
   * processed distribution gives the draft token (strict verification's chance to accept it).
   */
  public float acceptanceProbability() {
    return acceptanceProbability;
  }

  /** Whether the row's draft block goes on after it: an accepted draft that ended nothing. */
  public boolean continuesDraft() {
    return verdict == Verdict.ACCEPTED && finish == Finish.NONE;
  }

  /** A row after its draft block ended: nothing was sampled. */
  public static RowResult discarded(long seed) {
    RowResult r = new RowResult();
    r.tokenId = -1;
    r.seed = seed;
    r.verdict = Verdict.DISCARDED;
    return r;
  }

  /** The chosen token, or -1 when the row failed. */
  public int tokenId() {
    return tokenId;
  }

  /** Raw log-softmax of the chosen token over the logits as received. */
  public float logprob() {
    return logprob;
  }

  /** Log-probability the selector chose the token with (0 for a deterministic selector). */
  public float processedLogprob() {
    return processedLogprob;
  }

  /** #{v : raw logprob(v) ≥ raw logprob(chosen)}. */
  public int rank() {
    return rank;
  }

  /** Ids of the top alternatives, best first. */
  public int[] topIds() {
    return topIds;
  }

  /** Log-probabilities of the top alternatives, in the requested mode. */
  public float[] topLogprobs() {
    return topLogprobs;
  }

  public Finish finish() {
    return finish;
  }

  /** The seed the row was drawn with. */
  public long seed() {
    return seed;
  }

  /** The row's error, or {@code null}. */
  public TallyException error() {
    return error;
  }

  public boolean failed() {
    return error != null;
  }

  /** Explain mode: every stage in order, the selector last. Empty otherwise. */
  public List<StageTrace> stages() {
    return stages;
  }

  /** Label scoring: the labels, in request order; empty when the row was sampled. */
  public int[] labelIds() {
    return labelIds;
  }

  /** Label scoring: each label's log-probability renormalised over the labels. */
  public float[] labelLogprobs() {
    return labelLogprobs;
  }

  /** Explain mode: the gap between the two largest raw logits. */
  public float topLogitGap() {
    return topLogitGap;
  }

  /** The stop string that ended the sequence ({@link Finish#STOP_STRING}), else {@code null}. */
  public String stopString() {
    return stopString;
  }

  /** How many of the chosen token's bytes come after the stop string's end. */
  public int stopStringTrailingBytes() {
    return stopStringTrailingBytes;
  }

  /** A failed row: no token ({@code -1}), the error and the seed it would have been drawn with. */
  public static RowResult failure(TallyException error, long seed) {
    RowResult r = new RowResult();
    r.error = error;
    r.seed = seed;
    return r;
  }
}
