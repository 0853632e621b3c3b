package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ParamType;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenBias;
import java.util.Arrays;
import java.util.List;

/** Token masks and biases: allowed ids, banned ids, min_tokens EOS suppression, logit bias. */
final class Masks {
  private Masks() {}

  /** Only the listed ids stay candidates (vLLM {@code allowed_token_ids}). An empty list: off. */
  static final ProcessorFactory ALLOWED = Factories.processor("allowed_tokens",
      "Only the listed token ids can be chosen (vLLM allowed_token_ids).",
      List.of(ParamSpec.of("token_ids", ParamType.TOKEN_IDS, "Token ids that stay candidates.")
          .asRequired()),
      p -> new Allowed(distinctSorted(p.getIntArray("token_ids"))));

  /** The listed ids are removed (logit −∞). */
  static final ProcessorFactory BANNED = Factories.processor("banned_tokens",
      "The listed token ids are never chosen (logit set to -inf).",
      List.of(ParamSpec.of("token_ids", ParamType.TOKEN_IDS, "Token ids to remove.").asRequired()),
      p -> new Banned(p.getIntArray("token_ids")));

  /**
   * While the sequence has fewer than {@code min_tokens} output tokens, its end tokens are removed
   * (vLLM {@code min_tokens}: output tokens only, EOS and stop ids alike; HF {@code
   * MinNewTokensLengthLogitsProcessor}).
   */
  static final ProcessorFactory MIN_TOKENS = Factories.processor("min_tokens",
      "Removes the end tokens while the sequence has fewer than min_tokens output tokens (vLLM min_tokens).",
      List.of(
          ParamSpec.integer("min_tokens", "Output tokens to generate before an end token may be chosen.")
              .withRange(0, Integer.MAX_VALUE).asRequired(),
          ParamSpec.of("token_ids", ParamType.TOKEN_IDS, "The end tokens (EOS and stop ids).")
              .asRequired()),
      p -> new MinTokens(p.getInt("min_tokens"), p.getIntArray("token_ids")));

  /** Adds a bias per token id: OpenAI / vLLM {@code logit_bias}; a bias of −∞ bans the token. */
  static final ProcessorFactory LOGIT_BIAS = Factories.processor("logit_bias",
      "Adds a bias to the logit of each listed token (OpenAI logit_bias); -inf bans it.",
      List.of(ParamSpec.of("bias", ParamType.TOKEN_BIAS, "Token id to additive bias.").asRequired()),
      p -> new Bias(p.getTokenBias("bias")));

  static int[] distinctSorted(int[] ids) {
    return Arrays.stream(ids).sorted().distinct().toArray();
  }

  private static final class Allowed implements LogitsProcessor {
    private final int[] allowed; // ascending, distinct

    Allowed(int[] allowed) {
      this.allowed = allowed;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      if (c.isDense()) {
        c.retain(allowed, allowed.length, false);
        return;
      }
      int[] kept = c.scratchInts(c.size());
      int n = 0;
      for (int i = 0; i < c.size(); i++) {
        int id = c.id(i);
        if (Arrays.binarySearch(allowed, id) >= 0) {
          kept[n++] = id;
        }
      }
      c.retain(kept, n, c.isSorted());
    }
  }

  private static final class Banned implements LogitsProcessor {
    private final int[] banned;

    Banned(int[] banned) {
      this.banned = banned;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      for (int id : banned) {
        c.remove(id);
      }
    }
  }

  private static final class MinTokens implements LogitsProcessor {
    private final int minTokens;
    private final int[] endTokens;

    MinTokens(int minTokens, int[] endTokens) {
      this.minTokens = minTokens;
      this.endTokens = endTokens;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      if (context.history().outputLength() < minTokens) {
        for (int id : endTokens) {
          c.remove(id);
        }
      }
    }
  }

  private static final class Bias implements LogitsProcessor {
    private final TokenBias bias;

    Bias(TokenBias bias) {
      this.bias = bias;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      for (int i = 0; i < bias.size(); i++) {
        int id = bias.tokenId(i);
        float l = c.logit(id);
        c.setLogit(id, FloatRange.saturate(l, bias.bias(i), l + bias.bias(i)));
      }
    }
  }
}
