package dev.tally.core.random;

/**
 * Tally's draws: a uniform double in [0, 1) as a pure function of (seed, counter, stream).
 *
 * <p>The key is the 64-bit seed; the counter block is (counter low word, counter high word,
 * stream, 0). The counter is the number of output tokens the sequence has so far, so step n of a
 * sequence draws the same number in {@code Sample} and in {@code Session}, whatever else shares
 * the batch. Streams separate the independent numbers one step may need (stream 0: the final
 * draw). The double takes 53 bits from the first two output words, as {@code
 * java.util.Random#nextDouble} does.
 */
public final class CounterRandom {
  // The output block, per thread: a draw runs once per row, so no allocation per call.
  private static final ThreadLocal<int[]> BLOCK = ThreadLocal.withInitial(() -> new int[4]);

  private CounterRandom() {}

  /** A uniform double in [0, 1). */
  public static double uniform(long seed, long counter, int stream) {
    int[] out = BLOCK.get();
    Philox.block((int) counter, (int) (counter >>> 32), stream, 0, (int) seed, (int) (seed >>> 32),
        out);
    return (((long) (out[0] >>> 6) << 27) + (out[1] >>> 5)) * 0x1.0p-53;
  }

  /**
   * The seed of the {@code index}-th of n samples under {@code seed} ({@code
   * SamplingParams.sample_index}, a fork's): output words 0 and 1 of Philox4x32-10 keyed by the
   * seed on the counter block (index low word, index high word, 0, 1). No draw uses a block whose
   * last word is not 0, so derived seeds and draws never share a block; and a hash, unlike {@code
   * seed + index}, makes child 1 of seed s unrelated to child 0 of seed s + 1.
   */
  public static long deriveSeed(long seed, long index) {
    int[] out = BLOCK.get();
    Philox.block((int) index, (int) (index >>> 32), 0, 1, (int) seed, (int) (seed >>> 32), out);
    return (out[0] & 0xffffffffL) | ((long) out[1] << 32);
  }
}
