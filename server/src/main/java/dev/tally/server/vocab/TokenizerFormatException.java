package dev.tally.server.vocab;

import java.io.IOException;

/**
 * A {@code tokenizer.json} that cannot be decoded: not JSON, a missing or malformed section, or a
 * decoder Tally does not support. The message says what is wrong and where (a JSON path such as
 * {@code model.vocab["Ġthe"]} or {@code decoder.decoders[1]}), and names the file when there is
 * one.
 *
 * <p>An {@link IOException} so that a caller reporting "cannot read the tokenizer" with one {@code
 * catch} covers both a missing file and a bad one.
 */
public final class TokenizerFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  public TokenizerFormatException(String message) {
    super(message);
  }

  public TokenizerFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
