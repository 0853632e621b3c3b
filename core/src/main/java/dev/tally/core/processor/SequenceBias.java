package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ParamType;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Multi-token sequence bias and bad words: HF transformers' {@code SequenceBiasLogitsProcessor}
 * ({@code generate(sequence_bias=…)}) and {@code NoBadWordsLogitsProcessor} ({@code
 * generate(bad_words_ids=…)}), which is the same rule with a bias of −∞.
 *
 * <p><b>Rule (HF's).</b> A sequence {@code (s_0, …, s_{k−1})} applies to its last token {@code
 * s_{k−1}}: a single-token sequence always applies (a plain logit bias / a plain ban); a longer one
 * applies when its prefix {@code (s_0, …, s_{k−2})} equals the last {@code k − 1} tokens of the
 * history (prompt + output), including when the prefix is the whole history ({@code L = k − 1}),
 * and is ignored only while its prefix is longer than the history ({@code k − 1 > L}). HF's own
 * check ({@code k > L}) skips the case where the prefix is the whole history, which is where a
 * session that sends no prompt meets these rules first; Tally matches it (since 0.1.0, #20).
 * Every applicable bias on one token is summed first (in float32, single-token ones first, then
 * the others in request order) and added once, as HF adds one bias tensor. Identical sequences
 * count once (HF's keys form a dict).
 *
 * <p><b>Ties.</b> None: whether a sequence applies depends on the history only.
 *
 * <p><b>Cost.</b> O(total sequence length) per step, no allocation: sequences are flattened and
 * grouped by their last token when the stage is created.
 */
final class SequenceBias implements LogitsProcessor {
  /**
   * Bad words: HF {@code NoBadWordsLogitsProcessor}. Each sequence's last token is removed (logit
   * −∞) when the rest of the sequence ends the history; single-token sequences are always removed,
   * except that a single-token sequence naming one of {@code eos_token_ids} is dropped, as HF drops
   * {@code [eos]} so that bad words never stop a sequence from ending. An empty list: off.
   */
  static final ProcessorFactory BAD_WORDS = Factories.processor("bad_words",
      "Bans the last token of each listed token sequence whose prefix ends the history (HF bad_words_ids).",
      List.of(
          ParamSpec.of("sequences", ParamType.TOKEN_SEQUENCES,
              "Token sequences that must not be generated, e.g. [[42], [7, 99]].").asRequired(),
          ParamSpec.of("eos_token_ids", ParamType.TOKEN_IDS,
              "End tokens: a single-token sequence naming one of them is ignored (HF's eos_token_id rule).")
              .withDefault(new int[0])),
      p -> create(p.getTokenSequences("sequences"), Float.NEGATIVE_INFINITY,
          p.getIntArray("eos_token_ids")));

  /**
   * Sequence bias: HF {@code SequenceBiasLogitsProcessor}. Adds {@code bias} to each sequence's
   * last token when the rest of the sequence ends the history; a single-token sequence is a plain
   * logit bias. One stage has one bias value: name the stage once per value for several (biases of
   * several stages add up, as HF's do). {@code bias = 0}: no-op.
   */
  static final ProcessorFactory SEQUENCE_BIAS = Factories.processor("sequence_bias",
      "Adds a bias to the last token of each listed token sequence whose prefix ends the history (HF sequence_bias).",
      List.of(
          ParamSpec.of("sequences", ParamType.TOKEN_SEQUENCES,
              "Token sequences to bias, e.g. [[42], [7, 99]].").asRequired(),
          ParamSpec.number("bias", "Finite additive bias for each sequence's last token.")
              .asRequired()),
      p -> create(p.getTokenSequences("sequences"), (float) p.getDouble("bias"), new int[0]));

  // Sequences grouped by last token: group g covers entries [groupStart[g], groupStart[g + 1]),
  // all ending in groupToken[g]; entry e is flat[start[e], start[e + 1]) without its last token.
  private final int[] groupToken;
  private final int[] groupStart;
  private final int[] start;
  private final int[] flat;
  private final float bias;

  private SequenceBias(int[] groupToken, int[] groupStart, int[] start, int[] flat, float bias) {
    this.groupToken = groupToken;
    this.groupStart = groupStart;
    this.start = start;
    this.flat = flat;
    this.bias = bias;
  }

  static SequenceBias create(int[][] sequences, float bias, int[] eosTokenIds) {
    int[] eos = Masks.distinctSorted(eosTokenIds);
    Map<List<Integer>, int[]> distinct = new LinkedHashMap<>();
    for (int[] s : sequences) {
      if (s.length == 0) {
        throw new IllegalArgumentException("a token sequence is empty");
      }
      if (s.length == 1 && Arrays.binarySearch(eos, s[0]) >= 0) {
        continue;
      }
      List<Integer> key = new ArrayList<>(s.length);
      for (int id : s) {
        key.add(id);
      }
      distinct.putIfAbsent(key, s);
    }
    List<int[]> entries = new ArrayList<>(distinct.values());
    // Stable sort by last token, single-token sequences first within a token: the float sum then
    // adds in HF's order (its length-1 bias tensor first, then the longer keys as given).
    entries.sort(Comparator.<int[]>comparingInt(s -> s[s.length - 1])
        .thenComparingInt(s -> s.length == 1 ? 0 : 1));
    int groups = 0;
    for (int e = 0; e < entries.size(); e++) {
      if (e == 0 || last(entries.get(e)) != last(entries.get(e - 1))) {
        groups++;
      }
    }
    int[] groupToken = new int[groups];
    int[] groupStart = new int[groups + 1];
    int[] start = new int[entries.size() + 1];
    int total = 0;
    for (int[] s : entries) {
      total += s.length - 1;
    }
    int[] flat = new int[total];
    int g = -1;
    int pos = 0;
    for (int e = 0; e < entries.size(); e++) {
      int[] s = entries.get(e);
      if (e == 0 || last(s) != last(entries.get(e - 1))) {
        g++;
        groupToken[g] = last(s);
        groupStart[g] = e;
      }
      start[e] = pos;
      System.arraycopy(s, 0, flat, pos, s.length - 1);
      pos += s.length - 1;
    }
    start[entries.size()] = pos;
    groupStart[groups] = entries.size();
    return new SequenceBias(groupToken, groupStart, start, flat, bias);
  }

  private static int last(int[] s) {
    return s[s.length - 1];
  }

  @Override
  public void apply(Candidates c, SamplingContext context) {
    if (bias == 0f) {
      return;
    }
    TokenHistory h = context.history();
    int length = h.length();
    for (int g = 0; g < groupToken.length; g++) {
      float sum = 0f;
      boolean applies = false;
      for (int e = groupStart[g]; e < groupStart[g + 1]; e++) {
        if (matches(e, h, length)) {
          sum += bias;
          applies = true;
        }
      }
      if (applies) {
        int id = groupToken[g];
        float l = c.logit(id);
        c.setLogit(id, FloatRange.saturate(l, sum, l + sum));
      }
    }
  }

  /** Whether entry e's prefix ends the history (always, for a single-token sequence). */
  private boolean matches(int e, TokenHistory h, int length) {
    int prefix = start[e + 1] - start[e];
    if (prefix == 0) {
      return true;
    }
    if (prefix > length) { // a prefix longer than the history cannot end it
      return false;
    }
    int from = length - prefix;
    for (int j = 0; j < prefix; j++) {
      if (flat[start[e] + j] != h.token(from + j)) {
        return false;
      }
    }
    return true;
  }
}
