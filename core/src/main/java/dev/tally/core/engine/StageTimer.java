package dev.tally.core.engine;

import dev.tally.core.pipeline.Stage;

/**
 * Times the stages of a chain: {@link RowSampler} calls {@link #begin()} just before a processor
 * or the selector runs and {@link #end} just after it, whether it returned or threw.
 *
 * <p>It is called for every stage of every row, on the sampler threads, so an implementation must
 * be thread-safe and cheap: no allocation, no lock on the common path. The pair is a plain {@code
 * long} mark rather than a callback so the engine creates no lambda per call. {@link #NONE}, the
 * default, does not even read the clock.
 */
public interface StageTimer {
  /** Records nothing and never reads the clock. */
  StageTimer NONE = new StageTimer() {
    @Override
    public long begin() {
      return 0L;
    }

    @Override
    public void end(Stage stage, long begin) {}
  };

  /** A mark taken before the stage runs, typically {@link System#nanoTime()}. */
  long begin();

  /** The stage has run (or thrown); {@code begin} is the mark {@link #begin()} returned. */
  void end(Stage stage, long begin);
}
