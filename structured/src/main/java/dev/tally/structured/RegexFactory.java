package dev.tally.structured;

import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ParamType;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.TokenVocabulary;
import dev.tally.structured.automaton.TokenDfa;
import dev.tally.structured.automaton.TokenTable;
import dev.tally.structured.regex.Regex;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code regex}: the output must match a regular expression as a whole. Compiled constraints are
 * kept per (pattern, vocabulary, EOS ids), and each vocabulary's token table once, so a pattern
 * that many sequences share is compiled once and its masks are shared.
 */
final class RegexFactory implements ProcessorFactory {
  static final String NAME = "regex";
  private static final int MAX_CONSTRAINTS = 256;
  private static final int MAX_TABLES = 8;

  private final Map<String, TokenDfa> constraints = lru(MAX_CONSTRAINTS);
  private final Map<String, TokenTable> tables = lru(MAX_TABLES);

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
    return NAME;
  }

  @Override
  public String description() {
    return "Only tokens that keep the output a prefix of a match of the pattern (the whole output"
        + " must match; EOS only once it does). Needs SamplingParams.vocabulary.";
  }

  @Override
  public List<ParamSpec> params() {
    return List.of(
        ParamSpec.string("pattern", "The regular expression (ECMAScript syntax; docs/structured-output.md).")
            .asRequired(),
        ParamSpec.of("eos_token_ids", ParamType.TOKEN_IDS,
            "The tokens that end a whole match (default: the vocabulary's EOS ids)."));
  }

  @Override
  public LogitsProcessor create(Params params) {
    TokenVocabulary vocabulary = params.vocabulary();
    if (vocabulary == null) {
      throw new IllegalArgumentException("a regex constraint reads the tokens' bytes: set"
          + " SamplingParams.vocabulary to a registered vocabulary");
    }
    String pattern = params.getString("pattern");
    int[] eos = params.has("eos_token_ids") ? params.getIntArray("eos_token_ids")
        : vocabulary.eosTokenIds();
    return new Constraint(constraint(pattern, vocabulary, eos), "the pattern");
  }

  private TokenDfa constraint(String pattern, TokenVocabulary vocabulary, int[] eos) {
    String key = vocabulary.fingerprint() + "\u0000" + Arrays.toString(eos) + "\u0000" + pattern;
    synchronized (constraints) {
      TokenDfa dfa = constraints.get(key);
      if (dfa != null) {
        return dfa;
      }
    }
    // Compiled outside the lock: two requests may compile one pattern at once, never wrongly.
    TokenDfa dfa = new TokenDfa(Regex.compile(pattern), table(vocabulary), eos);
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
