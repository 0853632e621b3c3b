package dev.tally.server.cli;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import picocli.CommandLine;

/** Durations on the command line: {@code 10s}, {@code 500ms}, {@code 2m}, ISO-8601 {@code PT10S}. */
final class Durations {
  private Durations() {}

  static Duration parse(String text) {
    String s = text.trim().toLowerCase(Locale.ROOT);
    try {
      if (s.startsWith("pt") || s.startsWith("p")) {
        return Duration.parse(text.trim());
      }
      if (s.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2).trim()));
      }
      if (s.endsWith("s")) {
        return Duration.ofMillis(Math.round(Double.parseDouble(s.substring(0, s.length() - 1)) * 1000));
      }
      if (s.endsWith("m")) {
        return Duration.ofSeconds(Math.round(Double.parseDouble(s.substring(0, s.length() - 1)) * 60));
      }
      return Duration.ofMillis(Math.round(Double.parseDouble(s) * 1000)); // plain: seconds
    } catch (NumberFormatException | DateTimeParseException e) {
      throw new IllegalArgumentException("not a duration: '" + text + "' (try 10s, 500ms, 2m)");
    }
  }

  /** {@code 10s}, {@code 250ms}: the form the option takes. */
  static String format(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }

  /** For picocli. */
  static final class Converter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      Duration d;
      try {
        d = parse(value);
      } catch (IllegalArgumentException e) {
        // picocli shows a TypeConversionException's message as it is, any other with its class
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
      if (d.isNegative() || d.isZero()) {
        throw new CommandLine.TypeConversionException("must be positive: " + value);
      }
      return d;
    }
  }
}
