package dev.tally.spi;

/**
 * The type of a processor parameter, and the Java type {@link Params} hands it over as.
 *
 * <p>Requests carry parameters as JSON ({@code google.protobuf.Struct}); the server converts and
 * checks them before a factory sees them.
 */
public enum ParamType {
  /** JSON true/false; {@link Params#getBoolean}. */
  BOOLEAN("boolean"),
  /** A JSON number with no fraction, within {@code long}; {@link Params#getLong}. */
  INTEGER("integer"),
  /** Any finite JSON number; {@link Params#getDouble}. */
  NUMBER("number"),
  /** A JSON string; {@link Params#getString}. */
  STRING("string"),
  /** A JSON array of integers; {@link Params#getIntArray}. */
  INTEGER_LIST("integer_list"),
  /**
   * A JSON array of token ids; {@link Params#getIntArray}. Each id is checked against the
   * vocabulary of every step the stage runs on.
   */
  TOKEN_IDS("token_ids"),
  /**
   * A JSON object from token id (as a decimal string key) to a finite number; {@link
   * Params#getTokenBias}. Ids are checked against the vocabulary like {@link #TOKEN_IDS}.
   */
  TOKEN_BIAS("token_bias"),
  /**
   * A JSON array of non-empty arrays of token ids, e.g. {@code [[5], [17, 3, 9]]}: multi-token
   * sequences such as bad words; {@link Params#getTokenSequences} ({@code int[][]}). Every id is
   * checked like {@link #TOKEN_IDS}: non-negative, within the declared range if any, and against
   * the vocabulary of every step the stage runs on.
   */
  TOKEN_SEQUENCES("token_sequences");

  private final String wireName;

  ParamType(String wireName) {
    this.wireName = wireName;
  }

  /** The name the catalogue shows ({@code ParamInfo.type}). */
  public String wireName() {
    return wireName;
  }
}
