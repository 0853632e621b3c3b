package dev.tally.spi;

/**
 * What a stage may know about the row it works on, beyond the logits.
 *
 * <p>Random numbers come from a counter-based generator: {@link #random(int)} is a pure function of
 * the sequence's seed, the number of output tokens so far and the stream number. The same request
 * therefore gives the same tokens whatever the batch, the thread or a server restart. Stages that
 * need several independent numbers in one step use distinct streams; stream 0 is the final draw's.
 */
public interface SamplingContext {
  /** The sequence's prompt and output tokens. */
  TokenHistory history();

  /** The sequence's seed (the request's, or one the server chose). */
  long seed();

  /**
   * A uniform random number in [0, 1) with 53 random bits, for this row and step.
   *
   * @param stream which independent number; plugins should use streams from 1024 up
   */
  double random(int stream);
}
