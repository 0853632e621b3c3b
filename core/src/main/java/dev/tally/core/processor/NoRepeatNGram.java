package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import java.util.List;

/**
 * No-repeat n-gram ban: HF transformers' {@code NoRepeatNGramLogitsProcessor} ({@code
 * generate(no_repeat_ngram_size=n)}), over the sequence's prompt + output (HF's {@code input_ids}
 * of a decoder-only model); TensorRT-LLM's {@code no_repeat_ngram_size}.
 *
 * <p><b>Rule.</b> With history h of length L, every token t such that the n-gram {@code (h[L−n+1],
 * …, h[L−1], t)} already occurs in h is removed (logit −∞): for each start i in {@code [0, L − n]}
 * whose {@code n − 1} tokens equal the last {@code n − 1} tokens of h, {@code h[i + n − 1]} is
 * banned. {@code n = 1} bans every token that occurred. A history shorter than n bans nothing.
 *
 * <p><b>Disabled value.</b> {@code ngram_size = 0} (the default, HF's {@code GenerationConfig}
 * value) is off.
 *
 * <p><b>Ties.</b> None: a ban depends on the history only, never on the logits.
 *
 * <p><b>Cost.</b> O(L · n) per step, no allocation, no sort; the last prefix token is compared
 * first so most starts are rejected with one comparison.
 */
final class NoRepeatNGram implements LogitsProcessor {
  static final ProcessorFactory FACTORY = Factories.processor("no_repeat_ngram",
      "Bans every token that would repeat an n-gram of the prompt and output (HF no_repeat_ngram_size).",
      List.of(ParamSpec.integer("ngram_size", "n-gram length n >= 1 that may not repeat; 0 = off.")
          .withDefault(0L).withRange(0, Integer.MAX_VALUE)),
      p -> new NoRepeatNGram(p.getInt("ngram_size")));

  private final int n;

  NoRepeatNGram(int n) {
    this.n = n;
  }

  @Override
  public void apply(Candidates c, SamplingContext context) {
    if (n <= 0) {
      return;
    }
    TokenHistory h = context.history();
    int length = h.length();
    if (length < n) {
      return;
    }
    int prefix = n - 1;
    int suffixStart = length - prefix; // the current (n-1)-token suffix is h[suffixStart, length)
    int last = prefix == 0 ? -1 : h.token(length - 1);
    for (int i = 0; i + n <= length; i++) {
      if (prefix > 0 && h.token(i + prefix - 1) != last) {
        continue;
      }
      boolean match = true;
      for (int j = 0; j < prefix - 1; j++) {
        if (h.token(i + j) != h.token(suffixStart + j)) {
          match = false;
          break;
        }
      }
      if (match) {
        c.remove(h.token(i + prefix));
      }
    }
  }
}
