package dev.tally.server.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Where {@code tally serve} takes an option's value when the command line does not give it, in
 * order: the environment variable {@code TALLY_<OPTION>} (upper case, {@code -} as {@code _}:
 * {@code --max-rows} is {@code TALLY_MAX_ROWS}), then the config file ({@code --config FILE} or
 * {@code TALLY_CONFIG}: Java properties, one {@code option-name = value} a line, e.g. {@code
 * max-rows = 64}; repeatable options comma-separated), then the built-in default.
 *
 * <p>Records where each value came from, for {@code --print-config}.
 */
final class ConfigDefaults implements CommandLine.IDefaultValueProvider {
  static final String CONFIG_ENV = "TALLY_CONFIG";
  /** Options taken from neither the environment nor the file (they have their own rules). */
  private static final Set<String> NOT_CONFIGURABLE =
      Set.of("--config", "--print-config", "--help", "--version", "--plugin-dir");

  private final Map<String, String> env;
  private final Properties file;
  private final Path filePath;
  private final Map<String, String> sources = new LinkedHashMap<>();
  private final Set<String> invalid = new java.util.LinkedHashSet<>();

  ConfigDefaults(Map<String, String> env, Path filePath) throws IOException {
    this.env = Map.copyOf(env);
    this.filePath = filePath;
    this.file = new Properties();
    if (filePath != null) {
      try (Reader r = Files.newBufferedReader(filePath)) {
        file.load(r);
      }
    }
  }

  /** The config file named by {@code --config FILE} / {@code --config=FILE} or $TALLY_CONFIG. */
  static Path configFile(List<String> args, Map<String, String> env) {
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals("--config") && i + 1 < args.size()) {
        return Path.of(args.get(i + 1));
      }
      if (a.startsWith("--config=")) {
        return Path.of(a.substring("--config=".length()));
      }
    }
    String fromEnv = env.get(CONFIG_ENV);
    return fromEnv == null || fromEnv.isBlank() ? null : Path.of(fromEnv);
  }

  static String envName(String option) {
    return "TALLY_" + option.replaceFirst("^--", "").replace('-', '_').toUpperCase(Locale.ROOT);
  }

  static String fileKey(String option) {
    return option.replaceFirst("^--", "");
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec)) {
      return null;
    }
    String name = ((OptionSpec) arg).longestName();
    if (NOT_CONFIGURABLE.contains(name)) {
      return null;
    }
    String v = env.get(envName(name));
    String source = "env " + envName(name);
    if (v == null) {
      v = file.getProperty(fileKey(name));
      source = "file " + filePath;
      if (v == null) {
        return null;
      }
      v = v.trim();
    }
    String refusal = refusal((OptionSpec) arg, v);
    if (refusal != null) {
      invalid.add(name + " (" + source + "): " + refusal);
      return null; // the option keeps its built-in default; the problem is reported
    }
    sources.put(name, source);
    return v;
  }

  /**
   * Why the option cannot take {@code value}, or null. Checked here because picocli stops
   * applying defaults at the first one it cannot convert, so later bad values would go unreported,
   * and it takes a flag's bad default ("maybe") silently as false.
   */
  private static String refusal(OptionSpec option, String value) {
    Class<?> type = option.type();
    if (type == boolean.class || type == Boolean.class) {
      return value.equalsIgnoreCase("true") || value.equalsIgnoreCase("false") ? null
          : "'" + value + "' is not true or false";
    }
    try {
      if (type == int.class || type == Integer.class) {
        Integer.parseInt(value);
      } else if (type == long.class || type == Long.class) {
        Long.parseLong(value);
      }
    } catch (NumberFormatException e) {
      return "'" + value + "' is not an integer";
    }
    for (CommandLine.ITypeConverter<?> converter : option.converters()) {
      try {
        converter.convert(value);
      } catch (Exception e) {
        return e.getMessage();
      }
    }
    return null;
  }

  /** Values from the environment or the file that were refused before picocli saw them. */
  List<String> invalidValues() {
    return List.copyOf(invalid);
  }

  /** Keys in the file that name no option: a mistake worth reporting. */
  List<String> unknownFileKeys(CommandLine.Model.CommandSpec spec) {
    return file.stringPropertyNames().stream()
        .filter(k -> spec.findOption("--" + k) == null || NOT_CONFIGURABLE.contains("--" + k))
        .sorted()
        .map(k -> filePath + ": '" + k + "' is not an option of tally serve")
        .toList();
  }

  /** Where the option's value came from: "env TALLY_X", "file PATH", or null. */
  String source(String option) {
    return sources.get(option);
  }
}
