package dev.tally.spi;

/**
 * One stage of a sampling chain that rewrites logits or removes candidates, in place.
 *
 * <p>Called once per row per step, on a sampler thread; one instance may be called from several
 * threads at once for different rows, so it must not keep mutable state of its own. It must not
 * allocate per token: work on the primitive arrays of {@link Candidates}.
 *
 * <p>An exception fails only the current row (the client sees the row's error, naming the
 * processor and its plugin); the other rows and the session go on. A processor that runs past the
 * step's deadline fails its row with {@code DEADLINE_EXCEEDED} and its thread is interrupted: long
 * loops should check {@link Thread#interrupted()}, or the thread is lost to the server until they
 * end.
 *
 * <p>A processor that must remember something from step to step of one sequence implements {@link
 * StatefulProcessor} instead and keeps it in a {@link SequenceState}.
 */
@FunctionalInterface
public interface LogitsProcessor {
  /**
   * Applies the stage.
   *
   * @param candidates the row's candidates; set a logit to {@code -Infinity} to remove a token,
   *     or {@link Candidates#retain} a subset
   * @param context the sequence the row belongs to: its token history and random numbers
   */
  void apply(Candidates candidates, SamplingContext context);
}
