package dev.tally.core.random;

/**
 * Philox4x32-10, the counter-based generator of Salmon et al., "Parallel Random Numbers: As Easy as
 * 1, 2, 3" (SC'11), as in Random123, cuRAND and PyTorch.
 *
 * <p>A counter-based generator is a keyed bijection: output = f(key, counter). There is no state to
 * carry, so the number for (seed, step) can be computed on any thread, in any order, after any
 * restart — which is what makes Tally's draws reproducible across batch compositions.
 */
public final class Philox {
  private static final int M0 = 0xD2511F53;
  private static final int M1 = 0xCD9E8D57;
  private static final int W0 = 0x9E3779B9;
  private static final int W1 = 0xBB67AE85;

  private Philox() {}

  /**
   * Ten rounds of Philox4x32 on {@code counter} (4 words) under {@code key} (2 words).
   *
   * @param out receives the 4 output words
   */
  public static void block(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
    for (int round = 0; round < 10; round++) {
      if (round > 0) {
        k0 += W0;
        k1 += W1;
      }
      long p0 = (M0 & 0xffffffffL) * (c0 & 0xffffffffL);
      long p1 = (M1 & 0xffffffffL) * (c2 & 0xffffffffL);
      int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
      int n1 = (int) p1;
      int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
      int n3 = (int) p0;
      c0 = n0;
      c1 = n1;
      c2 = n2;
      c3 = n3;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
  }
}
