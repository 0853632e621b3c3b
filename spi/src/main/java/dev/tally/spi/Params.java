package dev.tally.spi;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The validated parameters a factory's {@code create} receives: only declared names, each of its
 * declared {@link ParamType}, in range, with defaults filled in.
 *
 * <p>Getters throw {@link IllegalArgumentException} for a name that has no value (an optional
 * parameter without default that the request left out): check with {@link #has} first.
 */
public final class Params {
  private static final Params EMPTY = new Params(Map.of(), null);

  private final Map<String, Object> values;
  private final TokenVocabulary vocabulary;

  private Params(Map<String, Object> values, TokenVocabulary vocabulary) {
    this.values = values;
    this.vocabulary = vocabulary;
  }

  /**
   * Wraps already-validated values. Servers and tests call this; values must be {@code Boolean},
   * {@code Long}, {@code Double}, {@code String}, {@code int[]}, {@code int[][]} or {@link
   * TokenBias}.
   */
  public static Params of(Map<String, ?> values) {
    Map<String, Object> copy = new HashMap<>();
    for (Map.Entry<String, ?> e : values.entrySet()) {
      Object v = e.getValue();
      if (!(v instanceof Boolean || v instanceof Long || v instanceof Double || v instanceof String
          || v instanceof int[] || v instanceof int[][] || v instanceof TokenBias)) {
        throw new IllegalArgumentException("parameter " + e.getKey() + " has an unsupported value "
            + (v == null ? "null" : v.getClass().getName()));
      }
      // Arrays are the one mutable value type: copy them, or the caller could change validated
      // parameters after the fact.
      copy.put(e.getKey(), v instanceof int[] ? ((int[]) v).clone()
          : v instanceof int[][] ? deepCopy((int[][]) v) : v);
    }
    return copy.isEmpty() ? EMPTY : new Params(Map.copyOf(copy), null);
  }

  /** The same parameters with the request's vocabulary (servers call this). */
  public Params withVocabulary(TokenVocabulary vocabulary) {
    return new Params(values, vocabulary);
  }

  /**
   * The vocabulary the request named ({@code SamplingParams.vocabulary}), or {@code null}: what
   * the token ids mean as bytes.
   */
  public TokenVocabulary vocabulary() {
    return vocabulary;
  }

  /** No parameters. */
  public static Params empty() {
    return EMPTY;
  }

  /** Whether the parameter has a value (given or defaulted). */
  public boolean has(String name) {
    return values.containsKey(name);
  }

  /** The names that have values. */
  public Set<String> names() {
    return values.keySet();
  }

  public boolean getBoolean(String name) {
    return get(name, Boolean.class);
  }

  public long getLong(String name) {
    return get(name, Long.class);
  }

  /** An integer parameter that the schema's range keeps within {@code int}. */
  public int getInt(String name) {
    return Math.toIntExact(getLong(name));
  }

  /** A number; integer parameters are widened. */
  public double getDouble(String name) {
    Object v = values.get(name);
    if (v instanceof Long) {
      return (Long) v;
    }
    return get(name, Double.class);
  }

  public String getString(String name) {
    return get(name, String.class);
  }

  /** An {@link ParamType#INTEGER_LIST} or {@link ParamType#TOKEN_IDS} value; a fresh copy. */
  public int[] getIntArray(String name) {
    return get(name, int[].class).clone();
  }

  /** A {@link ParamType#TOKEN_SEQUENCES} value; a fresh deep copy. */
  public int[][] getTokenSequences(String name) {
    return deepCopy(get(name, int[][].class));
  }

  private static int[][] deepCopy(int[][] sequences) {
    int[][] out = new int[sequences.length][];
    for (int i = 0; i < out.length; i++) {
      if (sequences[i] == null) {
        throw new IllegalArgumentException("token sequence " + i + " is null");
      }
      out[i] = sequences[i].clone();
    }
    return out;
  }

  public TokenBias getTokenBias(String name) {
    return get(name, TokenBias.class);
  }

  private <T> T get(String name, Class<T> type) {
    Object v = values.get(name);
    if (v == null) {
      throw new IllegalArgumentException("parameter " + name + " has no value");
    }
    if (!type.isInstance(v)) {
      throw new IllegalArgumentException(
          "parameter " + name + " is a " + v.getClass().getSimpleName() + ", not " + type.getSimpleName());
    }
    return type.cast(v);
  }

  /** The raw value map, for logging and echoing back. */
  public Map<String, Object> asMap() {
    return values;
  }

  @Override
  public String toString() {
    return values.toString();
  }
}
