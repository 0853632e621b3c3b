package dev.tally.spi;

/**
 * A model's vocabulary as stages see it: what each token id adds to the output, as bytes. The
 * request names it ({@code SamplingParams.vocabulary}); a factory receives it with its parameters
 * ({@link Params#vocabulary()}), so a stage that works on text (a grammar, a stop rule) can build
 * what it needs once per request or sequence.
 *
 * <p>Ids at or past {@link #size()} are padding (the logits may be wider than the vocabulary);
 * special tokens (BOS, EOS, chat markers) are never text. Immutable and thread-safe.
 */
public interface TokenVocabulary {
  /** The registered name. */
  String name();

  /** Number of tokens; logits may be wider. */
  int size();

  /** Whether {@code id} is text: inside the vocabulary and not special. */
  boolean isText(int id);

  /** The bytes token {@code id} adds to the output text: 0 for special and padded ids. */
  int textLength(int id);

  /**
   * Copies the last {@code count} of token {@code id}'s text bytes to {@code dst[at..]};
   * {@code count ≤ textLength(id)}.
   */
  void copyTextTail(int id, int count, byte[] dst, int at);

  /** The model's end-of-sequence ids, ascending. */
  int[] eosTokenIds();

  /** SHA-256 (hex) of the tokens, special and EOS ids: equal vocabularies, equal fingerprints. */
  String fingerprint();
}
