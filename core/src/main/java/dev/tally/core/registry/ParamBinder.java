package dev.tally.core.registry;

import dev.tally.core.error.TallyException;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ParamType;
import dev.tally.spi.Params;
import dev.tally.spi.TokenBias;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a request's raw parameters into validated {@link Params} against a factory's schema:
 * unknown names, missing required ones, wrong types and out-of-range values are each an {@code
 * INVALID_PARAMS} error that names the processor and the parameter.
 *
 * <p>Raw values are what JSON gives ({@code Boolean}, {@code Double}, {@code String}, {@code
 * List}, {@code Map}, {@code null}) or already-typed Java values ({@code Long}, {@code int[]},
 * {@code int[][]}, {@link TokenBias}) from the typed convenience fields and schema defaults.
 */
public final class ParamBinder {
  /** Maps a parameter to the request field that holds it, and to the label errors show. */
  public interface Naming {
    String field(String param);

    String label(String param);
  }

  /** Parameters of a stage named in {@code pipeline[i]} or {@code processors[i]}. */
  public static Naming nested(String fieldPrefix, String processor) {
    return new Naming() {
      @Override
      public String field(String param) {
        return fieldPrefix + ".params." + param;
      }

      @Override
      public String label(String param) {
        return processor + "." + param;
      }
    };
  }

  private ParamBinder() {}

  public static Params bind(RegisteredFactory f, Map<String, ?> raw, Naming naming) {
    Map<String, Object> values = new HashMap<>();
    for (Map.Entry<String, ?> e : raw.entrySet()) {
      ParamSpec spec = f.param(e.getKey());
      if (spec == null) {
        List<String> known = new ArrayList<>();
        f.params().forEach(p -> known.add(p.name()));
        throw TallyException.invalidParams(naming.field(e.getKey()), "processor '" + f.name()
            + "' has no parameter '" + e.getKey() + "'; its parameters are " + known);
      }
      if (e.getValue() != null) {
        values.put(spec.name(), convert(spec, e.getValue(), naming));
      }
    }
    for (ParamSpec spec : f.params()) {
      if (!values.containsKey(spec.name())) {
        if (spec.required()) {
          throw TallyException.invalidParams(naming.field(spec.name()),
              naming.label(spec.name()) + " is required");
        }
        if (spec.defaultValue() != null) {
          values.put(spec.name(), convert(spec, spec.defaultValue(), naming));
        }
      }
    }
    return Params.of(values);
  }

  private static Object convert(ParamSpec spec, Object v, Naming naming) {
    String label = naming.label(spec.name());
    String field = naming.field(spec.name());
    switch (spec.type()) {
      case BOOLEAN:
        if (v instanceof Boolean) {
          return v;
        }
        throw wrongType(field, label, "a boolean", v);
      case INTEGER:
        return checkRange(spec, integral(v, field, label), field, label);
      case NUMBER:
        if (!(v instanceof Number)) {
          throw wrongType(field, label, "a number", v);
        }
        double d = ((Number) v).doubleValue();
        if (!Double.isFinite(d)) {
          throw TallyException.invalidParams(field, label + " must be finite, got " + d);
        }
        checkRange(spec, d, field, label);
        return d;
      case STRING:
        if (!(v instanceof String)) {
          throw wrongType(field, label, "a string", v);
        }
        if (!spec.allowedValues().isEmpty() && !spec.allowedValues().contains(v)) {
          throw TallyException.invalidParams(field,
              label + " must be one of " + spec.allowedValues() + ", got '" + v + "'");
        }
        return v;
      case INTEGER_LIST:
      case TOKEN_IDS:
        return intList(spec, v, field, label);
      case TOKEN_BIAS:
        return tokenBias(v, field, label);
      case TOKEN_SEQUENCES:
        return tokenSequences(spec, v, field, label);
      default:
        throw new AssertionError(spec.type());
    }
  }

  private static long integral(Object v, String field, String label) {
    if (v instanceof Long || v instanceof Integer) {
      return ((Number) v).longValue();
    }
    if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (d == Math.rint(d) && Math.abs(d) <= (double) (1L << 53)) {
        return (long) d;
      }
      throw TallyException.invalidParams(field, label + " must be an integer, got " + d);
    }
    throw wrongType(field, label, "an integer", v);
  }

  private static <T extends Number> T checkRange(ParamSpec spec, T value, String field,
      String label) {
    if (!spec.inRange(value.doubleValue())) {
      throw TallyException.invalidParams(field,
          label + " must be in " + spec.rangeText() + ", got " + value);
    }
    return value;
  }

  private static int[] intList(ParamSpec spec, Object v, String field, String label) {
    if (v instanceof int[]) {
      int[] ids = (int[]) v;
      for (int id : ids) {
        checkElement(spec, id, field, label);
      }
      return ids;
    }
    if (!(v instanceof List)) {
      throw wrongType(field, label, "a list of integers", v);
    }
    List<?> list = (List<?>) v;
    int[] out = new int[list.size()];
    for (int i = 0; i < out.length; i++) {
      long x = integral(list.get(i), field, label + "[" + i + "]");
      if (x < Integer.MIN_VALUE || x > Integer.MAX_VALUE) {
        throw TallyException.invalidParams(field, label + "[" + i + "] is out of range: " + x);
      }
      out[i] = (int) x;
      checkElement(spec, out[i], field, label);
    }
    return out;
  }

  /**
   * A list of non-empty token-id lists: {@code int[][]} (typed) or JSON {@code List<List<Number>>}.
   * Each id is checked like a {@link ParamType#TOKEN_IDS} element; errors point at {@code
   * label[i][j]}. An empty inner list is refused: it names no token to ban or bias (HF refuses it
   * too).
   */
  private static int[][] tokenSequences(ParamSpec spec, Object v, String field, String label) {
    if (v instanceof int[][]) {
      int[][] sequences = (int[][]) v;
      for (int i = 0; i < sequences.length; i++) {
        String at = label + "[" + i + "]";
        if (sequences[i] == null || sequences[i].length == 0) {
          throw TallyException.invalidParams(field, at + " must be a non-empty list of token ids");
        }
        for (int x : sequences[i]) {
          checkElement(spec, x, field, at);
        }
      }
      return sequences;
    }
    if (!(v instanceof List)) {
      throw wrongType(field, label, "a list of token-id lists", v);
    }
    List<?> outer = (List<?>) v;
    int[][] out = new int[outer.size()][];
    for (int i = 0; i < out.length; i++) {
      String at = label + "[" + i + "]";
      Object item = outer.get(i);
      if (!(item instanceof List) || ((List<?>) item).isEmpty()) {
        throw TallyException.invalidParams(field, at + " must be a non-empty list of token ids, got "
            + (item instanceof List ? "an empty list" : describe(item)));
      }
      List<?> inner = (List<?>) item;
      out[i] = new int[inner.size()];
      for (int j = 0; j < out[i].length; j++) {
        long x = integral(inner.get(j), field, at + "[" + j + "]");
        if (x < Integer.MIN_VALUE || x > Integer.MAX_VALUE) {
          throw TallyException.invalidParams(field, at + "[" + j + "] is out of range: " + x);
        }
        out[i][j] = (int) x;
        checkElement(spec, out[i][j], field, at);
      }
    }
    return out;
  }

  private static void checkElement(ParamSpec spec, int x, String field, String label) {
    if ((spec.type() == ParamType.TOKEN_IDS || spec.type() == ParamType.TOKEN_SEQUENCES) && x < 0) {
      throw TallyException.invalidParams(field, label + " holds a negative token id: " + x);
    }
    checkRange(spec, x, field, label);
  }

  private static TokenBias tokenBias(Object v, String field, String label) {
    if (v instanceof TokenBias) {
      // Typed values (the logit_bias convenience field) get the same checks as JSON ones: a
      // negative id would index out of the logits, a NaN or +inf bias would poison the row.
      TokenBias bias = (TokenBias) v;
      for (int i = 0; i < bias.size(); i++) {
        checkBiasEntry(bias.tokenId(i), bias.bias(i), field, label);
      }
      return bias;
    }
    if (!(v instanceof Map)) {
      throw wrongType(field, label, "an object from token id to bias", v);
    }
    Map<?, ?> map = (Map<?, ?>) v;
    int[] ids = new int[map.size()];
    float[] biases = new float[map.size()];
    int i = 0;
    for (Map.Entry<?, ?> e : map.entrySet()) {
      int id;
      try {
        id = Integer.parseInt(String.valueOf(e.getKey()));
      } catch (NumberFormatException ex) {
        throw TallyException.invalidParams(field,
            label + " keys must be token ids, got '" + e.getKey() + "'");
      }
      if (!(e.getValue() instanceof Number)) {
        throw wrongType(field, label + "[" + id + "]", "a number", e.getValue());
      }
      float b = ((Number) e.getValue()).floatValue();
      checkBiasEntry(id, b, field, label);
      ids[i] = id;
      biases[i++] = b;
    }
    try {
      return TokenBias.of(ids, biases);
    } catch (IllegalArgumentException e) { // two keys naming one id, e.g. "1" and "01"
      throw TallyException.invalidParams(field, label + ": " + e.getMessage());
    }
  }

  private static void checkBiasEntry(int id, float bias, String field, String label) {
    if (id < 0) {
      throw TallyException.invalidParams(field, label + " holds a negative token id: " + id);
    }
    if (Float.isNaN(bias) || bias == Float.POSITIVE_INFINITY) {
      throw TallyException.invalidParams(field,
          label + "[" + id + "] must be finite or -inf, got " + bias);
    }
  }

  private static TallyException wrongType(String field, String label, String expected, Object v) {
    return TallyException.invalidParams(field, label + " must be " + expected + ", got "
        + describe(v));
  }

  private static String describe(Object v) {
    return v == null ? "null" : v instanceof Map ? "an object" : v instanceof List ? "a list"
        : v instanceof String ? "a string" : v instanceof Boolean ? "a boolean"
        : v instanceof Number ? "a number" : v.getClass().getSimpleName();
  }
}
