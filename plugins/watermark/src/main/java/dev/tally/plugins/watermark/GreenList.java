package dev.tally.plugins.watermark;

/**
 * The green list of a step: {@code floor(V·γ)} token ids drawn as the first entries of a seeded
 * random permutation of the vocabulary, seeded by the previous token ("lefthash", context width
 * 1, as HF's default). The algorithm, which {@code tally watermark-detect} reimplements and any
 * detector must follow exactly:
 *
 * <pre>
 * G     = floor(V × γ)                               (as HF: int(vocab_size × greenlist_ratio))
 * seed  = hash_key × previous_token                   (64-bit two's-complement, wrapping)
 * next  = SplitMix64(seed): state += 0x9E3779B97F4A7C15;
 *         z = state; z = (z ^ (z >>> 30)) × 0xBF58476D1CE4E5B9;
 *         z = (z ^ (z >>> 27)) × 0x94D049BB133111EB; return z ^ (z >>> 31)
 * perm  = [0, 1, …, V−1]
 * for i in 0 … G−1:  j = i + (next() as unsigned mod (V − i));  swap perm[i], perm[j]
 * green = perm[0 … G−1]
 * </pre>
 *
 * HF draws the permutation with {@code torch.randperm} on a Mersenne-Twister generator, which is
 * not reproducible outside torch; the scheme above keeps HF's semantics (γ, the seed {@code
 * hash_key × previous token}, an exact green-list size) with a generator any language can
 * implement in a few lines.
 */
final class GreenList {
  private GreenList() {}

  /** {@code floor(V·γ)}. */
  static int size(int vocabSize, double gamma) {
    return (int) (vocabSize * gamma);
  }

  /**
   * Fills {@code perm[0, G)} with the green ids for {@code previous} ({@code perm} holds at least V
   * entries; its other entries are scratch).
   */
  static void fill(int[] perm, int vocabSize, int greenSize, long hashKey, int previous) {
    for (int i = 0; i < vocabSize; i++) {
      perm[i] = i;
    }
    long state = hashKey * previous;
    for (int i = 0; i < greenSize; i++) {
      state += 0x9E3779B97F4A7C15L;
      int j = i + (int) Long.remainderUnsigned(mix(state), vocabSize - i);
      int t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
  }

  /**
   * Whether {@code token} is green after {@code previous}: the same shuffle, following only where
   * {@code token} goes. O(G) time, no array.
   */
  static boolean isGreen(int token, int vocabSize, int greenSize, long hashKey, int previous) {
    int position = token;
    long state = hashKey * previous;
    for (int i = 0; i < greenSize; i++) {
      state += 0x9E3779B97F4A7C15L;
      int j = i + (int) Long.remainderUnsigned(mix(state), vocabSize - i);
      if (j == position) {
        return true; // moved to slot i, which is final and green
      }
      if (i == position) {
        position = j; // swapped out to j >= i, may come back later
      }
    }
    return position < greenSize;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
