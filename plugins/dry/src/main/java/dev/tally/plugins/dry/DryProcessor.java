package dev.tally.plugins.dry;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ParamType;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The DRY repetition penalty with llama.cpp's semantics ({@code llama_sampler_dry_apply}).
 *
 * <p>Over the last {@code last_n} tokens of the sequence (prompt and output; all of them for
 * {@code -1}): for every position where the text so far ends with a repeat of what came before,
 * the token that followed that earlier occurrence would extend the repeat. If the repeat is at
 * least {@code allowed_length} long, that token's logit drops by {@code multiplier ·
 * base^(length − allowed_length)}, using the longest repeat it would extend. Repeats never reach
 * back across a <em>sequence breaker</em> (a token or token sequence such as a newline): the
 * nearest breaker from the end limits their length, and a single-token breaker is itself never
 * penalised. The exponent is clamped so the penalty stays within float range, as in llama.cpp.
 *
 * <p>Breakers are token-id sequences, not strings: llama.cpp tokenises its default breakers
 * ({@code "\n"}, {@code ":"}, {@code "\""}, {@code "*"}) with the model's vocabulary, which Tally
 * does not have; clients pass the ids of their tokenizer. DRY keeps no per-sequence state: the
 * SPI hands every stage the whole history, and llama.cpp's ring buffer of accepted tokens is
 * exactly its last {@code last_n} tokens. The Z-algorithm makes a step O(last_n) (plus a sort of
 * the penalised tokens), with no allocation.
 */
final class DryProcessor implements LogitsProcessor {
  /** {@code logf(FLT_MAX)}, as llama.cpp writes it: bounds the exponent. */
  private static final float FLOAT_MAX_LOG = 88.7228391f;

  static final ProcessorFactory FACTORY = new ProcessorFactory() {
    private final List<ParamSpec> params = List.of(
        ParamSpec.number("multiplier", "Penalty scale; 0 turns DRY off. llama.cpp's default is 0"
            + " (off); 0.8 is the value DRY's author recommends.")
            .withDefault(0.8).withRange(0, true, Double.POSITIVE_INFINITY, false),
        ParamSpec.number("base", "Growth of the penalty per token of repeat beyond allowed_length."
            + " llama.cpp: 1.75.").withDefault(1.75).withRange(1, true, Double.POSITIVE_INFINITY,
            false),
        ParamSpec.integer("allowed_length", "Longest repeat that is not penalised. llama.cpp: 2.")
            .withDefault(2L).withRange(0, Integer.MAX_VALUE),
        ParamSpec.integer("last_n", "How many of the latest tokens (prompt and output) to scan;"
            + " -1 = all, 0 = off. llama.cpp: -1 (the context).")
            .withDefault(-1L).withRange(-1, Integer.MAX_VALUE),
        ParamSpec.of("sequence_breakers", ParamType.TOKEN_SEQUENCES, "Token-id sequences that"
            + " end a repeat, e.g. the ids of \"\\n\", \":\", \"\\\"\" and \"*\" in your"
            + " tokenizer (llama.cpp's default strings). Default: none.")
            .withDefault(new int[0][]));

    @Override
    public String name() {
      return "dry";
    }

    @Override
    public String description() {
      return "DRY repetition penalty (llama.cpp dry): penalises tokens that would extend a repeat"
          + " longer than allowed_length by multiplier * base^(length - allowed_length).";
    }

    @Override
    public List<ParamSpec> params() {
      return params;
    }

    @Override
    public LogitsProcessor create(Params p) {
      return new DryProcessor((float) p.getDouble("multiplier"), (float) p.getDouble("base"),
          p.getInt("allowed_length"), p.getInt("last_n"), p.getTokenSequences("sequence_breakers"));
    }
  };

  private final float multiplier;
  private final float base;
  private final int allowedLength;
  private final int lastN;
  private final int maxExponent;
  // Breakers by head token: heads sorted, tails[k] = the tails of every breaker starting with
  // heads[k] (an empty tail: the head alone is a breaker). Binary search, no boxing.
  private final int[] heads;
  private final int[][][] tails;

  DryProcessor(float multiplier, float base, int allowedLength, int lastN, int[][] breakers) {
    this.multiplier = multiplier;
    this.base = base;
    this.allowedLength = allowedLength;
    this.lastN = lastN;
    this.maxExponent = base > 1.000001f ? (int) (FLOAT_MAX_LOG / (float) Math.log(base)) : 0;
    int[][] sorted = breakers.clone();
    Arrays.sort(sorted, (a, b) -> Integer.compare(a[0], b[0]));
    List<Integer> headList = new ArrayList<>();
    List<int[][]> tailList = new ArrayList<>();
    for (int i = 0; i < sorted.length; ) {
      int head = sorted[i][0];
      List<int[]> group = new ArrayList<>();
      for (; i < sorted.length && sorted[i][0] == head; i++) {
        group.add(Arrays.copyOfRange(sorted[i], 1, sorted[i].length));
      }
      headList.add(head);
      tailList.add(group.toArray(new int[0][]));
    }
    this.heads = headList.stream().mapToInt(Integer::intValue).toArray();
    this.tails = tailList.toArray(new int[0][][]);
  }

  @Override
  public void apply(Candidates c, SamplingContext context) {
    if (multiplier == 0f || lastN == 0) {
      return;
    }
    TokenHistory h = context.history();
    int n = lastN < 0 ? h.length() : Math.min(h.length(), lastN);
    if (n <= allowedLength) {
      return;
    }
    // r[i]: the i-th latest token (r[0] is the last one), as llama.cpp's ring_buffer.rat(i).
    int[] scratch = c.scratchInts(2 * n);
    int offset = h.length() - 1;
    for (int i = 0; i < n; i++) {
      scratch[i] = h.token(offset - i);
    }

    // Step 1: the nearest sequence breaker from the end limits how far back a repeat may reach.
    int repLimit = n;
    for (int i = 0; i < n; i++) {
      int k = Arrays.binarySearch(heads, scratch[i]);
      if (k < 0) {
        continue;
      }
      int longest = -1;
      for (int[] tail : tails[k]) {
        int len = tail.length;
        if (len > longest && len <= i) {
          boolean match = true;
          for (int j = 0; j < len && match; j++) {
            match = tail[j] == scratch[i - j - 1]; // a tail follows its head, towards the end
          }
          if (match) {
            longest = len;
          }
        }
      }
      if (longest >= 0) {
        repLimit = i - longest;
        break;
      }
    }
    if (repLimit < allowedLength) {
      return;
    }

    // Step 2: z[k] = length of the longest common prefix of r and r[k..] (Z-algorithm), i.e. how
    // many tokens ending k places before the end repeat the end of the text; capped by repLimit.
    int z0 = n; // z values live in scratch[n, 2n)
    scratch[z0] = 0;
    int left = 0;
    int right = 0;
    for (int k = 1; k < n; k++) {
      int len = 0;
      if (k < right) {
        len = Math.min(right - k, scratch[z0 + k - left]);
      }
      while (k + len < n && scratch[len] == scratch[k + len]) {
        len++;
      }
      scratch[z0 + k] = len;
      if (k + len > right) {
        left = k;
        right = k + len;
      }
    }

    // Step 3: a repeat of length L ending k places back is extended by the token that followed
    // it, r[k-1]; keep each such token's longest L. Packed (token, L) pairs, sorted by token.
    long[] pairs = c.scratchLongs(n);
    int count = 0;
    for (int k = 1; k < n; k++) {
      int length = Math.min(scratch[z0 + k], repLimit);
      if (length >= allowedLength) {
        pairs[count++] = ((long) scratch[k - 1] << 32) | length;
      }
    }
    if (count == 0) {
      return;
    }
    Arrays.sort(pairs, 0, count);

    // Step 4: penalise (the largest L of each token comes last in its run).
    int vocab = c.vocabSize();
    for (int i = 0; i < count; i++) {
      int token = (int) (pairs[i] >>> 32);
      if (i + 1 < count && (int) (pairs[i + 1] >>> 32) == token) {
        continue;
      }
      if (token >= vocab || isSingleTokenBreaker(token)) {
        continue;
      }
      int length = (int) pairs[i];
      int exponent = length - allowedLength;
      if (maxExponent > 0 && exponent > maxExponent) {
        exponent = maxExponent;
      }
      float penalty = (float) (multiplier * Math.pow(base, exponent));
      float logit = c.logit(token);
      if (logit != Float.NEGATIVE_INFINITY) {
        c.setLogit(token, logit - penalty);
      }
    }
  }

  private boolean isSingleTokenBreaker(int token) {
    int k = Arrays.binarySearch(heads, token);
    if (k < 0) {
      return false;
    }
    for (int[] tail : tails[k]) {
      if (tail.length == 0) {
        return true;
      }
    }
    return false;
  }
}
