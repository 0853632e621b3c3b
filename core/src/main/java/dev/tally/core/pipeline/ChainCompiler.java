package dev.tally.core.pipeline;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.processor.BuiltinPlugin;
import dev.tally.core.registry.ParamBinder;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.registry.RegisteredFactory;
import dev.tally.core.registry.StageKind;
import dev.tally.core.vocab.StopStrings;
import dev.tally.core.vocab.Vocabulary;
import dev.tally.core.vocab.VocabularyRegistry;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.ParamType;
import dev.tally.spi.Params;
import dev.tally.spi.TokenBias;
import dev.tally.spi.TokenSelector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a {@link SamplingConfig} into a {@link Chain}, validating everything first: no stage runs
 * for a request that has any error.
 *
 * <p>The convenience fields compile to named built-in stages, in the order of DESIGN §3:
 *
 * <pre>
 * temperature first (vLLM, HF): allowed_tokens, banned_tokens, min_tokens, logit_bias,
 *   repetition_penalty, presence_frequency_penalty, processors…, [temperature 0: greedy]
 *   temperature, top_n_sigma, top_k, top_p, min_p, typical_p, draw
 * temperature last (llama.cpp): … processors…, top_n_sigma, top_k, typical_p, top_p, min_p,
 *   temperature, draw   (temperature 0: greedy over the truncated candidates)
 * </pre>
 *
 * A non-empty {@code pipeline} is the whole chain instead, verbatim; a final selector is optional
 * ({@code draw} is appended).
 */
public final class ChainCompiler {
  private final ProcessorRegistry registry;
  private final VocabularyRegistry vocabularies;
  private final int maxTopLogprobs;

  /** A compiler for requests that name no vocabulary. */
  public ChainCompiler(ProcessorRegistry registry, int maxTopLogprobs) {
    this(registry, VocabularyRegistry.none(), maxTopLogprobs);
  }

  public ChainCompiler(ProcessorRegistry registry, VocabularyRegistry vocabularies,
      int maxTopLogprobs) {
    this.registry = registry;
    this.vocabularies = vocabularies;
    this.maxTopLogprobs = maxTopLogprobs;
  }

  /**
   * Compiles a chain.
   *
   * @throws TallyException with the offending field relative to {@code SamplingParams}
   */
  public Chain compile(SamplingConfig config) {
    Builder b = new Builder();
    checkIds(config.eosTokenIds(), "eos_token_ids", b);
    checkIds(config.stopTokenIds(), "stop_token_ids", b);
    if (config.topLogprobs() > maxTopLogprobs) {
      throw new TallyException(ErrorCode.LIMIT_EXCEEDED, "top_logprobs",
          "top_logprobs is " + config.topLogprobs() + "; this server's limit (max_top_logprobs) is "
              + maxTopLogprobs);
    }
    boolean labelled = config.labelTokenIds().length > 0;
    if (labelled) {
      checkLabels(config.labelTokenIds(), b);
    }
    Vocabulary vocabulary = config.vocabulary() == null ? null
        : vocabularies.lookup(config.vocabulary(), "vocabulary");
    StopStrings stops = StopStrings.of(config.stopStrings(), config.minTokens());
    if (!stops.isEmpty() && vocabulary == null) {
      throw TallyException.invalidParams("stop_strings",
          "stop_strings match the output's bytes, so they need a vocabulary: set vocabulary to a"
              + " registered one (RegisterVocabulary)");
    }
    // A vocabulary's EOS ids stand in for eos_token_ids the request leaves empty.
    b.vocabulary = vocabulary;
    b.eosTokenIds = config.eosTokenIds().length == 0 && vocabulary != null
        ? vocabulary.eosTokenIds() : config.eosTokenIds();
    if (config.structuredPattern() != null) {
      constrain(config, b);
    }
    if (!config.pipeline().isEmpty()) {
      compilePipeline(config, b, labelled);
    } else {
      compileConvenience(config, b, labelled);
    }
    return new Chain(b.stages, b.selector, new EndRules(b.eosTokenIds,
        config.stopTokenIds(), vocabulary, stops), (int) config.topLogprobs(),
        config.processedLogprobs(), config.explain(), seedOf(config), b.maxTokenId,
        b.maxTokenField, config.labelTokenIds(), b.rawTopHint);
  }

  /** The seed the chain draws with: the given one, or the one derived for its sample index. */
  private static Long seedOf(SamplingConfig c) {
    if (c.seed() == null || c.sampleIndex() == null) {
      return c.seed(); // without a seed each sequence gets a random one: nothing to derive from
    }
    return dev.tally.core.random.CounterRandom.deriveSeed(c.seed(), c.sampleIndex());
  }

  /** structured_output: its mask is the first stage, before every other rule. */
  private void constrain(SamplingConfig c, Builder b) {
    String field = c.structuredField();
    if (b.vocabulary == null) {
      throw TallyException.invalidParams(field, "structured_output constrains the output's bytes,"
          + " so it needs a vocabulary: set vocabulary to a registered one (RegisterVocabulary)");
    }
    String stage = c.structuredStage();
    String source = stage.equals("regex") ? "pattern" : "schema";
    Map<String, Object> raw = new LinkedHashMap<>();
    raw.put(source, c.structuredPattern());
    if (b.eosTokenIds.length > 0) {
      raw.put("eos_token_ids", b.eosTokenIds);
    }
    Map<String, String> fields = new LinkedHashMap<>(); // the first names the stage in errors
    fields.put(source, field);
    fields.put("eos_token_ids", "eos_token_ids");
    b.addBuiltin(registry.lookup(stage, field), raw, fields);
  }

  /** A regular expression matching exactly the given strings. */
  public static String choicePattern(List<String> choices) {
    if (choices.isEmpty()) {
      throw TallyException.invalidParams("structured_output.choice",
          "structured_output.choice needs at least one string");
    }
    StringBuilder p = new StringBuilder();
    for (String choice : choices) {
      if (p.length() > 0) {
        p.append('|');
      }
      choice.codePoints().forEach(cp -> {
        if ("\\^$.|?*+()[]{}/".indexOf(cp) >= 0) {
          p.append('\\');
        }
        p.appendCodePoint(cp);
      });
    }
    return p.toString();
  }

  private static void checkLabels(int[] labels, Builder b) {
    checkIds(labels, "label_token_ids", b);
    int[] sorted = labels.clone();
    java.util.Arrays.sort(sorted);
    for (int i = 1; i < sorted.length; i++) {
      if (sorted[i] == sorted[i - 1]) {
        throw TallyException.invalidParams("label_token_ids",
            "label_token_ids names token " + sorted[i] + " twice");
      }
    }
  }

  private void compilePipeline(SamplingConfig c, Builder b, boolean labelled) {
    String conflict = firstConvenienceField(c);
    if (conflict != null) {
      throw TallyException.invalidParams("pipeline",
          "pipeline is the whole chain; it cannot be combined with " + conflict);
    }
    List<StageSpec> specs = c.pipeline();
    for (int i = 0; i < specs.size(); i++) {
      String field = "pipeline[" + i + "]";
      StageSpec spec = specs.get(i);
      RegisteredFactory f = registry.lookup(spec.name(), field + ".name");
      if (f.kind() == StageKind.SELECTOR && i != specs.size() - 1) {
        throw TallyException.invalidParams(field + ".name", "'" + spec.name()
            + "' is a selector: it chooses the token, so it must be the last stage of pipeline");
      }
      b.add(f, ParamBinder.bind(f, spec.params(), ParamBinder.nested(field, spec.name())), field);
    }
    if (labelled && b.selector != null) {
      throw TallyException.invalidParams("label_token_ids", "label scoring chooses the token;"
          + " pipeline must not end with a selector ('" + b.selector.name() + "')");
    }
    if (b.selector == null && !labelled) {
      b.addBuiltin(registry.lookup("draw", "pipeline"), Map.of(), Map.of());
    }
  }

  private void compileConvenience(SamplingConfig c, Builder b, boolean labelled) {
    if (c.allowedTokenIds().length > 0) {
      b.addBuiltin(registry.lookup("allowed_tokens", "allowed_token_ids"),
          Map.of("token_ids", c.allowedTokenIds()), Map.of("token_ids", "allowed_token_ids"));
    }
    if (c.bannedTokenIds().length > 0) {
      b.addBuiltin(registry.lookup("banned_tokens", "banned_token_ids"),
          Map.of("token_ids", c.bannedTokenIds()), Map.of("token_ids", "banned_token_ids"));
    }
    int[] endTokens = concat(b.eosTokenIds, c.stopTokenIds());
    if (c.minTokens() > Integer.MAX_VALUE) {
      throw TallyException.invalidParams("min_tokens", "min_tokens is too large: " + c.minTokens());
    }
    if (c.minTokens() > 0 && endTokens.length > 0) {
      b.addBuiltin(registry.lookup("min_tokens", "min_tokens"),
          Map.of("min_tokens", c.minTokens(), "token_ids", endTokens),
          Map.of("min_tokens", "min_tokens", "token_ids", "eos_token_ids"));
    }
    if (c.logitBias().size() > 0) {
      b.addBuiltin(registry.lookup("logit_bias", "logit_bias"), Map.of("bias", c.logitBias()),
          Map.of("bias", "logit_bias"));
    }
    long lastN = c.penaltyLastN() == null ? -1 : c.penaltyLastN();
    // Checked here as well as by the penalty stages' schemas: with no penalty on, no stage would
    // see it, and a bad field must be an error whatever else the request sets.
    if (lastN < -1) {
      throw TallyException.invalidParams("penalty_last_n",
          "penalty_last_n must be >= -1 (-1 = the whole history), got " + lastN);
    }
    if (c.repetitionPenalty() != null && c.repetitionPenalty() != 1f) {
      b.addBuiltin(registry.lookup("repetition_penalty", "repetition_penalty"),
          Map.of("penalty", (double) c.repetitionPenalty(), "last_n", lastN),
          Map.of("penalty", "repetition_penalty", "last_n", "penalty_last_n"));
    }
    float presence = c.presencePenalty() == null ? 0f : c.presencePenalty();
    float frequency = c.frequencyPenalty() == null ? 0f : c.frequencyPenalty();
    if (presence != 0f || frequency != 0f) { // NaN too, which the binder then refuses
      b.addBuiltin(registry.lookup("presence_frequency_penalty", "presence_penalty"),
          Map.of("presence", (double) presence, "frequency", (double) frequency, "last_n", lastN),
          Map.of("presence", "presence_penalty", "frequency", "frequency_penalty",
              "last_n", "penalty_last_n"));
    }
    List<StageSpec> extra = c.processors();
    for (int i = 0; i < extra.size(); i++) {
      String field = "processors[" + i + "]";
      StageSpec spec = extra.get(i);
      RegisteredFactory f = registry.lookup(spec.name(), field + ".name");
      if (f.kind() == StageKind.SELECTOR) {
        throw TallyException.invalidParams(field + ".name", "'" + spec.name()
            + "' is a selector; processors takes processors only (name a selector last in pipeline)");
      }
      b.add(f, ParamBinder.bind(f, spec.params(), ParamBinder.nested(field, spec.name())), field);
    }

    float temperature = c.temperature() == null ? 1f : c.temperature();
    if (!Float.isFinite(temperature) || temperature < 0f) {
      throw TallyException.invalidParams("temperature",
          "temperature must be finite and >= 0, got " + temperature);
    }
    boolean greedy = temperature == 0f;
    if (labelled) {
      // Labels are scored on the whole distribution: truncation would drop labels, and
      // temperature 0 has no probabilities to report.
      String truncation = c.topK() != null && c.topK() > 0 ? "top_k"
          : c.topP() != null ? "top_p" : c.minP() != null ? "min_p"
          : c.typicalP() != null ? "typical_p" : c.topNSigma() != null ? "top_n_sigma" : null;
      if (truncation != null) {
        throw TallyException.invalidParams(truncation,
            truncation + " does not apply to label scoring (label_token_ids)");
      }
      if (greedy) {
        throw TallyException.invalidParams("temperature",
            "label scoring reports probabilities; temperature must be > 0, got 0");
      }
      addTemperature(temperature, b);
      return;
    }
    if (greedy && !c.temperatureLast()) {
      // Argmax is decided before temperature and truncation, which cannot change it (vLLM).
      addTruncation(c, new Builder()); // still validated: a bad top_p is an error even here
      b.addBuiltin(registry.lookup("greedy", "temperature"), Map.of(), Map.of());
      return;
    }
    if (!c.temperatureLast()) {
      addTemperature(temperature, b);
    }
    addTruncation(c, b);
    if (c.temperatureLast()) {
      if (greedy) {
        b.addBuiltin(registry.lookup("greedy", "temperature"), Map.of(), Map.of());
        return;
      }
      addTemperature(temperature, b);
    }
    b.addBuiltin(registry.lookup("draw", "seed"), Map.of(), Map.of());
  }

  private void addTemperature(float temperature, Builder b) {
    if (temperature != 1f) {
      b.addBuiltin(registry.lookup("temperature", "temperature"),
          Map.of("temperature", (double) temperature), Map.of("temperature", "temperature"));
    }
  }

  private void addTruncation(SamplingConfig c, Builder b) {
    Map<String, Runnable> byName = new LinkedHashMap<>();
    byName.put("top_n_sigma", () -> {
      if (c.topNSigma() != null && !(c.topNSigma() <= 0f)) {
        b.addBuiltin(registry.lookup("top_n_sigma", "top_n_sigma"),
            Map.of("n", (double) c.topNSigma()), Map.of("n", "top_n_sigma"));
      }
    });
    byName.put("top_k", () -> {
      if (c.topK() != null) {
        if (c.topK() < -1) {
          throw TallyException.invalidParams("top_k",
              "top_k must be >= 0 (0 or -1 = off), got " + c.topK());
        }
        if (c.topK() > 0) {
          b.addBuiltin(registry.lookup("top_k", "top_k"), Map.of("k", (long) c.topK()),
              Map.of("k", "top_k"));
        }
      }
    });
    byName.put("top_p", () -> {
      if (c.topP() != null && c.topP() != 1f) {
        b.addBuiltin(registry.lookup("top_p", "top_p"), Map.of("p", (double) c.topP()),
            Map.of("p", "top_p"));
      }
    });
    byName.put("min_p", () -> {
      if (c.minP() != null && c.minP() != 0f) {
        b.addBuiltin(registry.lookup("min_p", "min_p"), Map.of("min_p", (double) c.minP()),
            Map.of("min_p", "min_p"));
      }
    });
    byName.put("typical_p", () -> {
      if (c.typicalP() != null && c.typicalP() != 1f) {
        b.addBuiltin(registry.lookup("typical_p", "typical_p"), Map.of("p", (double) c.typicalP()),
            Map.of("p", "typical_p"));
      }
    });
    List<String> order = c.temperatureLast()
        ? List.of("top_n_sigma", "top_k", "typical_p", "top_p", "min_p")
        : List.of("top_n_sigma", "top_k", "top_p", "min_p", "typical_p");
    for (String name : order) {
      byName.get(name).run();
    }
  }

  private static String firstConvenienceField(SamplingConfig c) {
    if (c.temperature() != null) {
      return "temperature";
    }
    if (c.topK() != null) {
      return "top_k";
    }
    if (c.topP() != null) {
      return "top_p";
    }
    if (c.minP() != null) {
      return "min_p";
    }
    if (c.typicalP() != null) {
      return "typical_p";
    }
    if (c.topNSigma() != null) {
      return "top_n_sigma";
    }
    if (c.repetitionPenalty() != null) {
      return "repetition_penalty";
    }
    if (c.presencePenalty() != null) {
      return "presence_penalty";
    }
    if (c.frequencyPenalty() != null) {
      return "frequency_penalty";
    }
    if (c.penaltyLastN() != null) {
      return "penalty_last_n";
    }
    if (c.logitBias().size() > 0) {
      return "logit_bias";
    }
    if (c.allowedTokenIds().length > 0) {
      return "allowed_token_ids";
    }
    if (c.bannedTokenIds().length > 0) {
      return "banned_token_ids";
    }
    if (c.minTokens() > 0) {
      return "min_tokens";
    }
    if (!c.processors().isEmpty()) {
      return "processors";
    }
    if (c.temperatureLast()) {
      return "order";
    }
    return null;
  }

  private static void checkIds(int[] ids, String field, Builder b) {
    for (int id : ids) {
      if (id < 0) {
        throw TallyException.invalidParams(field, field + " holds a negative token id: " + id);
      }
      b.noteTokenId(id, field);
    }
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = new int[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** Collects stages and the largest token id their parameters name. */
  private static final class Builder {
    final List<Stage> stages = new ArrayList<>();
    Stage selector;
    int maxTokenId = -1;
    String maxTokenField;
    // The k of a built-in top_k that only built-in stages precede, else 0: Chain.rawTopHint.
    int rawTopHint;
    int[] eosTokenIds;
    Vocabulary vocabulary;
    private boolean onlyBuiltins = true;

    /** A built-in stage from a convenience field; errors name the field, not the parameter. */
    void addBuiltin(RegisteredFactory f, Map<String, Object> raw, Map<String, String> fields) {
      ParamBinder.Naming naming = new ParamBinder.Naming() {
        @Override
        public String field(String param) {
          return fields.getOrDefault(param, param);
        }

        @Override
        public String label(String param) {
          return field(param);
        }
      };
      Params params = ParamBinder.bind(f, raw, naming);
      add(f, params, fields.isEmpty() ? null : fields.values().iterator().next(), naming);
    }

    void add(RegisteredFactory f, Params params, String field) {
      add(f, params, field, ParamBinder.nested(field, f.name()));
    }

    private void add(RegisteredFactory f, Params params, String field, ParamBinder.Naming naming) {
      for (ParamSpec spec : f.params()) {
        if (!params.has(spec.name())) {
          continue;
        }
        if (spec.type() == ParamType.TOKEN_IDS) {
          for (int id : params.getIntArray(spec.name())) {
            noteTokenId(id, naming.field(spec.name()));
          }
        } else if (spec.type() == ParamType.TOKEN_BIAS) {
          TokenBias bias = params.getTokenBias(spec.name());
          if (bias.size() > 0) {
            noteTokenId(bias.tokenId(bias.size() - 1), naming.field(spec.name()));
          }
        } else if (spec.type() == ParamType.TOKEN_SEQUENCES) {
          for (int[] sequence : params.getTokenSequences(spec.name())) {
            for (int id : sequence) {
              noteTokenId(id, naming.field(spec.name()));
            }
          }
        }
      }
      Object made;
      try {
        made = f.factory().create(vocabulary == null ? params : params.withVocabulary(vocabulary));
      } catch (IllegalArgumentException e) {
        throw TallyException.invalidParams(field, f.name() + ": " + e.getMessage());
      } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
        // Plugin code: not only RuntimeExceptions (a class missing from the plugin's jar, an
        // undeclared checked exception); each is this request's error, never an escape.
        throw new TallyException(ErrorCode.PROCESSOR_FAILED, field, "processor '" + f.name()
            + "' (plugin " + f.plugin() + ") failed to start: " + e, e);
      }
      boolean builtin = BuiltinPlugin.NAME.equals(f.plugin());
      if (builtin && onlyBuiltins && rawTopHint == 0 && "top_k".equals(f.name())) {
        rawTopHint = (int) Math.min(Integer.MAX_VALUE, params.getLong("k"));
      }
      onlyBuiltins &= builtin;
      if (f.kind() == StageKind.SELECTOR) {
        selector = Stage.selector(f.name(), f.plugin(), (TokenSelector) made);
      } else {
        stages.add(Stage.processor(f.name(), f.plugin(), (LogitsProcessor) made));
      }
    }

    void noteTokenId(int id, String field) {
      if (id > maxTokenId) {
        maxTokenId = id;
        maxTokenField = field;
      }
    }
  }
}
