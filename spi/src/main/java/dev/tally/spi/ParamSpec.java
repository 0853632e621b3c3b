package dev.tally.spi;

import java.util.List;
import java.util.Objects;

/**
 * The declaration of one parameter of a processor or selector: name, type, default, whether it is
 * required, its range or allowed values, and a description for the catalogue.
 *
 * <p>Immutable; build with the static factories and the {@code with…} methods:
 *
 * <pre>{@code
 * ParamSpec.number("p", "Cumulative probability to keep.").withDefault(1.0).withRange(0, false, 1, true)
 * }</pre>
 */
public final class ParamSpec {
  private final String name;
  private final ParamType type;
  private final String description;
  private final Object defaultValue;
  private final boolean required;
  private final Double minimum;
  private final boolean minimumInclusive;
  private final Double maximum;
  private final boolean maximumInclusive;
  private final List<String> allowedValues;

  private ParamSpec(
      String name,
      ParamType type,
      String description,
      Object defaultValue,
      boolean required,
      Double minimum,
      boolean minimumInclusive,
      Double maximum,
      boolean maximumInclusive,
      List<String> allowedValues) {
    if (!NamedFactory.NAME.matcher(Objects.requireNonNull(name, "name")).matches()) {
      throw new IllegalArgumentException("parameter name must match [a-z][a-z0-9_]*: " + name);
    }
    if (Objects.requireNonNull(description, "description").isBlank()) {
      throw new IllegalArgumentException("parameter " + name + " needs a description");
    }
    this.name = name;
    this.type = Objects.requireNonNull(type, "type");
    this.description = description;
    this.defaultValue = defaultValue;
    this.required = required;
    this.minimum = minimum;
    this.minimumInclusive = minimumInclusive;
    this.maximum = maximum;
    this.maximumInclusive = maximumInclusive;
    this.allowedValues = List.copyOf(allowedValues);
  }

  /** A parameter of the given type, optional and without default until told otherwise. */
  public static ParamSpec of(String name, ParamType type, String description) {
    return new ParamSpec(name, type, description, null, false, null, true, null, true, List.of());
  }

  /** A {@link ParamType#NUMBER} parameter. */
  public static ParamSpec number(String name, String description) {
    return of(name, ParamType.NUMBER, description);
  }

  /** An {@link ParamType#INTEGER} parameter. */
  public static ParamSpec integer(String name, String description) {
    return of(name, ParamType.INTEGER, description);
  }

  /** A {@link ParamType#BOOLEAN} parameter. */
  public static ParamSpec bool(String name, String description) {
    return of(name, ParamType.BOOLEAN, description);
  }

  /** A {@link ParamType#STRING} parameter. */
  public static ParamSpec string(String name, String description) {
    return of(name, ParamType.STRING, description);
  }

  /**
   * The value used when a request leaves the parameter out: a {@code Boolean}, a {@code Number}, a
   * {@code String}, an {@code int[]}, for {@link ParamType#TOKEN_SEQUENCES} an {@code int[][]}, or
   * for {@link ParamType#TOKEN_BIAS} a {@link TokenBias}.
   */
  public ParamSpec withDefault(Object value) {
    return new ParamSpec(name, type, description, Objects.requireNonNull(value, "default"), false,
        minimum, minimumInclusive, maximum, maximumInclusive, allowedValues);
  }

  /** Makes the parameter required: a request must give it. */
  public ParamSpec asRequired() {
    return new ParamSpec(name, type, description, null, true, minimum, minimumInclusive, maximum,
        maximumInclusive, allowedValues);
  }

  /** A closed range {@code [min, max]} for numbers, integers and list elements. */
  public ParamSpec withRange(double min, double max) {
    return withRange(min, true, max, true);
  }

  /**
   * A range for numbers, integers and list elements; use infinities for an open side.
   *
   * @param minInclusive whether {@code min} itself is allowed
   * @param maxInclusive whether {@code max} itself is allowed
   */
  public ParamSpec withRange(double min, boolean minInclusive, double max, boolean maxInclusive) {
    return new ParamSpec(name, type, description, defaultValue, required,
        Double.isInfinite(min) ? null : min, minInclusive,
        Double.isInfinite(max) ? null : max, maxInclusive, allowedValues);
  }

  /** The only values a {@link ParamType#STRING} parameter may take. */
  public ParamSpec withAllowedValues(String... values) {
    return new ParamSpec(name, type, description, defaultValue, required, minimum,
        minimumInclusive, maximum, maximumInclusive, List.of(values));
  }

  public String name() {
    return name;
  }

  public ParamType type() {
    return type;
  }

  public String description() {
    return description;
  }

  /** The default value, or {@code null} when there is none. */
  public Object defaultValue() {
    return defaultValue;
  }

  public boolean required() {
    return required;
  }

  /** The lower bound, or {@code null} when unbounded below. */
  public Double minimum() {
    return minimum;
  }

  public boolean minimumInclusive() {
    return minimumInclusive;
  }

  /** The upper bound, or {@code null} when unbounded above. */
  public Double maximum() {
    return maximum;
  }

  public boolean maximumInclusive() {
    return maximumInclusive;
  }

  /** For strings: the allowed values, or empty when any string is allowed. */
  public List<String> allowedValues() {
    return allowedValues;
  }

  /** Whether {@code value} lies within the declared range; NaN never does, bounded or not. */
  public boolean inRange(double value) {
    if (Double.isNaN(value)) {
      return false; // every comparison with NaN is false, so the checks below would let it through
    }
    if (minimum != null && (minimumInclusive ? value < minimum : value <= minimum)) {
      return false;
    }
    return maximum == null || (maximumInclusive ? value <= maximum : value < maximum);
  }

  /** The range in interval notation, e.g. {@code (0, 1]}; empty when unbounded. */
  public String rangeText() {
    if (minimum == null && maximum == null) {
      return "";
    }
    return (minimum == null ? "(-inf" : (minimumInclusive ? "[" : "(") + format(minimum))
        + ", "
        + (maximum == null ? "+inf)" : format(maximum) + (maximumInclusive ? "]" : ")"));
  }

  private static String format(double d) {
    return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
  }

  @Override
  public String toString() {
    return name + ":" + type.wireName();
  }
}
