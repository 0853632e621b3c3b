package dev.tally.plugins.watermark;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.TokenHistory;
import java.util.List;

/**
 * Adds δ to the logit of every "green" token: a fraction γ of the vocabulary chosen afresh at each
 * step by a generator seeded with {@code hash_key × previous token} ({@link GreenList}). Text
 * written this way holds far more green tokens than the γ expected by chance, which {@code tally
 * watermark-detect} measures as a z-score. Same parameters and defaults as HF's {@code
 * WatermarkLogitsProcessor} ({@code greenlist_ratio} = gamma 0.25, {@code bias} = delta 2.0,
 * {@code hashing_key} 15485863, {@code seeding_scheme} "lefthash"); like HF, a sequence with no
 * token yet is left alone. Stateless: the previous token is in the history.
 *
 * <p>Where it runs in the chain matters: HF applies it after the warpers (top-k, top-p), just
 * before the draw; in Tally's convenience order, {@code processors} run after the penalties and
 * before temperature. Use {@code pipeline} to place it yourself.
 */
final class WatermarkProcessor implements LogitsProcessor {
  /** HF's default hashing key, a prime. */
  static final long DEFAULT_HASH_KEY = 15485863L;

  static final ProcessorFactory FACTORY = new ProcessorFactory() {
    private final List<ParamSpec> params = List.of(
        ParamSpec.number("gamma", "Fraction of the vocabulary that is green at each step (HF"
            + " greenlist_ratio).").withDefault(0.25).withRange(0, false, 1, false),
        ParamSpec.number("delta", "Added to the logit of every green token (HF bias).")
            .withDefault(2.0).withRange(-1000, 1000),
        ParamSpec.integer("hash_key", "Seeds the green list with hash_key * previous token (HF"
            + " hashing_key). Detection must use the same key.")
            .withDefault(DEFAULT_HASH_KEY).withRange(1, (double) (1L << 53)),
        ParamSpec.string("seeding_scheme", "How the previous tokens seed the green list; only"
            + " \"lefthash\" (the previous token alone, HF's default) is supported.")
            .withDefault("lefthash").withAllowedValues("lefthash"));

    @Override
    public String name() {
      return "watermark";
    }

    @Override
    public String description() {
      return "Green-list watermark (Kirchenbauer et al.; HF WatermarkLogitsProcessor): adds delta"
          + " to a gamma fraction of the vocabulary seeded by the previous token; detect with"
          + " tally watermark-detect.";
    }

    @Override
    public List<ParamSpec> params() {
      return params;
    }

    @Override
    public LogitsProcessor create(Params p) {
      return new WatermarkProcessor(p.getDouble("gamma"), (float) p.getDouble("delta"),
          p.getLong("hash_key"));
    }
  };

  private final double gamma;
  private final float delta;
  private final long hashKey;

  WatermarkProcessor(double gamma, float delta, long hashKey) {
    this.gamma = gamma;
    this.delta = delta;
    this.hashKey = hashKey;
  }

  @Override
  public void apply(Candidates c, SamplingContext context) {
    TokenHistory h = context.history();
    if (h.length() == 0) {
      return;
    }
    int vocab = c.vocabSize();
    int green = GreenList.size(vocab, gamma);
    if (green == 0) {
      return;
    }
    int[] perm = c.scratchInts(vocab);
    GreenList.fill(perm, vocab, green, hashKey, h.token(h.length() - 1));
    float[] logits = c.logits();
    for (int i = 0; i < green; i++) {
      int id = perm[i];
      float l = logits[id];
      if (l != Float.NEGATIVE_INFINITY) {
        c.setLogit(id, l + delta);
      }
    }
  }
}
