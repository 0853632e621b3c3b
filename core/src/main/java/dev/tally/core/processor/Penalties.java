package dev.tally.core.processor;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import java.util.Arrays;
import java.util.List;

/**
 * Repetition, presence and frequency penalties over a sequence's history.
 *
 * <p>Which tokens count (DESIGN §3, as vLLM): with {@code last_n = -1} the repetition penalty sees
 * every distinct token of prompt ∪ output, and presence/frequency count output tokens only. With
 * {@code last_n = n ≥ 0}, only the last n tokens of prompt + output count (for presence/frequency:
 * the output tokens among them); 0 disables.
 *
 * <p>The work is O(w log w) in the window w and allocates nothing: window ids are copied to a
 * scratch array and sorted, so that distinct tokens and their counts are runs.
 */
final class Penalties {
  private Penalties() {}

  private static final ParamSpec LAST_N = ParamSpec.integer("last_n",
          "Only the last n tokens of prompt + output count; -1 = all of them, 0 = none.")
      .withDefault(-1L).withRange(-1, Integer.MAX_VALUE);

  /**
   * CTRL repetition penalty (Keskar et al. 2019, with the sign fix of HF, vLLM and llama.cpp):
   * for each distinct token t in the window, {@code logit /= penalty} if {@code logit > 0}, else
   * {@code logit *= penalty}. 1 = off.
   */
  static final ProcessorFactory REPETITION = Factories.processor("repetition_penalty",
      "CTRL repetition penalty: once per distinct token of prompt and output, positive logits divided, others multiplied (HF, vLLM, llama.cpp).",
      List.of(ParamSpec.number("penalty", "Penalty > 0; 1 = off, > 1 discourages repeats.")
              .withDefault(1.0).withRange(0, false, Double.POSITIVE_INFINITY, false),
          LAST_N),
      p -> new Repetition((float) p.getDouble("penalty"), p.getInt("last_n")));

  /**
   * OpenAI presence and frequency penalties: {@code logit -= count·frequency + [count > 0]·presence},
   * counting output tokens only (OpenAI, vLLM).
   */
  static final ProcessorFactory PRESENCE_FREQUENCY = Factories.processor("presence_frequency_penalty",
      "OpenAI penalties over output tokens: logit -= count * frequency + (count > 0) * presence.",
      List.of(ParamSpec.number("presence", "Subtracted once from every token that occurred; in [-2, 2].")
              .withDefault(0.0).withRange(-2, 2),
          ParamSpec.number("frequency", "Subtracted once per occurrence; in [-2, 2].")
              .withDefault(0.0).withRange(-2, 2),
          LAST_N),
      p -> new PresenceFrequency((float) p.getDouble("presence"), (float) p.getDouble("frequency"),
          p.getInt("last_n")));

  /** First history index inside the window. */
  static int windowStart(TokenHistory h, int lastN) {
    return lastN < 0 ? 0 : Math.max(0, h.length() - lastN);
  }

  /** Copies history[from, length) into a sorted scratch array; returns its length. */
  private static int sortedWindow(Candidates c, TokenHistory h, int from) {
    int n = h.length() - from;
    int[] ids = c.scratchInts(n);
    for (int i = 0; i < n; i++) {
      ids[i] = h.token(from + i);
    }
    Arrays.sort(ids, 0, n);
    return n;
  }

  private static final class Repetition implements LogitsProcessor {
    private final float penalty;
    private final int lastN;

    Repetition(float penalty, int lastN) {
      this.penalty = penalty;
      this.lastN = lastN;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      if (penalty == 1f) {
        return;
      }
      TokenHistory h = context.history();
      int n = sortedWindow(c, h, windowStart(h, lastN));
      int[] ids = c.scratchInts(n);
      for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (i > 0 && id == ids[i - 1]) {
          continue;
        }
        float l = c.logit(id);
        c.setLogit(id, FloatRange.saturate(l, penalty, l > 0 ? l / penalty : l * penalty));
      }
      c.orderPreserved(false);
    }
  }

  private static final class PresenceFrequency implements LogitsProcessor {
    private final float presence;
    private final float frequency;
    private final int lastN;

    PresenceFrequency(float presence, float frequency, int lastN) {
      this.presence = presence;
      this.frequency = frequency;
      this.lastN = lastN;
    }

    @Override
    public void apply(Candidates c, SamplingContext context) {
      if (presence == 0f && frequency == 0f) {
        return;
      }
      TokenHistory h = context.history();
      int from = Math.max(windowStart(h, lastN), h.promptLength());
      int n = sortedWindow(c, h, from);
      int[] ids = c.scratchInts(n);
      for (int i = 0; i < n; ) {
        int id = ids[i];
        int j = i;
        while (j < n && ids[j] == id) {
          j++;
        }
        c.setLogit(id, c.logit(id) - ((j - i) * frequency + presence));
        i = j;
      }
      c.orderPreserved(false);
    }
  }
}
