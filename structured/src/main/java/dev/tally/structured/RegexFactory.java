package dev.tally.structured;

import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ParamType;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.TokenVocabulary;
import dev.tally.structured.automaton.TokenDfa;
import dev.tally.structured.automaton.TokenTable;
import dev.tally.structured.jsonschema.JsonSchema;
import dev.tally.structured.regex.Regex;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A constraint stage whose source compiles to a regular expression: {@code regex} (the pattern
 * itself) and {@code json_schema} (a schema's JSON texts, {@link JsonSchema}). Compiled
 * constraints are kept per (stage, source, vocabulary, EOS ids), and each vocabulary's token
 * table once for all stages, so a source that many sequences share is compiled once and its masks
 * are shared.
 */
final class RegexFactory implements ProcessorFactory {
  private static final int MAX_CONSTRAINTS = 256;
  private static final int MAX_TABLES = 8;

  private final String name;
  private final String description;
  private final ParamSpec source;
  private final String what;
  private final UnaryOperator<String> toRegex;
  private final Map<String, TokenDfa> constraints = lru(MAX_CONSTRAINTS);
  private final Map<String, TokenTable> tables;

  private RegexFactory(String name, String description, ParamSpec source, String what,
      UnaryOperator<String> toRegex, Map<String, TokenTable> tables) {
    this.name = name;
    this.description = description;
    this.source = source;
    this.what = what;
    this.toRegex = toRegex;
    this.tables = tables;
  }

  /** Token tables by vocabulary fingerprint, for the stages of one plugin to share. */
  static Map<String, TokenTable> tables() {
    return lru(MAX_TABLES);
  }

  static RegexFactory regex(Map<String, TokenTable> tables) {
    return new RegexFactory("regex", "Only tokens that keep the output a prefix of a match of the"
        + " pattern (the whole output must match; EOS only once it does). Needs"
        + " SamplingParams.vocabulary.",
        ParamSpec.string("pattern", "The regular expression (ECMAScript syntax;"
            + " docs/structured-output.md).").asRequired(),
        "the pattern", UnaryOperator.identity(), tables);
  }

  static RegexFactory jsonSchema(Map<String, TokenTable> tables) {
    return new RegexFactory("json_schema", "Only tokens that keep the output a prefix of one JSON"
        + " value valid against the schema (EOS only once the value is whole). Needs"
        + " SamplingParams.vocabulary.",
        ParamSpec.string("schema", "The JSON Schema document (draft 2020-12; the keywords"
            + " docs/structured-output.md lists).").asRequired(),
        "the schema", JsonSchema::toRegex, tables);
  }

  private static <V> Map<String, V> lru(int max) {
    return new LinkedHashMap<>(16, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
        return size() > max;
      }
    };
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String description() {
    return description;
  }

  @Override
  public List<ParamSpec> params() {
    return List.of(source,
        ParamSpec.of("eos_token_ids", ParamType.TOKEN_IDS,
            "The tokens that end a whole match (default: the vocabulary's EOS ids)."));
  }

  @Override
  public LogitsProcessor create(Params params) {
    TokenVocabulary vocabulary = params.vocabulary();
    if (vocabulary == null) {
      throw new IllegalArgumentException("a " + name + " constraint reads the tokens' bytes: set"
          + " SamplingParams.vocabulary to a registered vocabulary");
    }
    String text = params.getString(source.name());
    int[] eos = params.has("eos_token_ids") ? params.getIntArray("eos_token_ids")
        : vocabulary.eosTokenIds();
    return new Constraint(constraint(text, vocabulary, eos), what);
  }

  private TokenDfa constraint(String text, TokenVocabulary vocabulary, int[] eos) {
    String key = vocabulary.fingerprint() + "\u0000" + Arrays.toString(eos) + "\u0000" + text;
    synchronized (constraints) {
      TokenDfa dfa = constraints.get(key);
      if (dfa != null) {
        return dfa;
      }
    }
    // Compiled outside the lock: two requests may compile one source at once, never wrongly.
    TokenDfa dfa = new TokenDfa(Regex.compile(toRegex.apply(text)), table(vocabulary), eos);
    synchronized (constraints) {
      constraints.putIfAbsent(key, dfa);
      return constraints.get(key);
    }
  }

  private TokenTable table(TokenVocabulary vocabulary) {
    synchronized (tables) {
      return tables.computeIfAbsent(vocabulary.fingerprint(), f -> new TokenTable(vocabulary));
    }
  }
}
