package dev.tally.core.processor;

import static dev.tally.core.processor.Anchors.ids;
import static dev.tally.core.processor.Anchors.sequences;
import static dev.tally.core.processor.Anchors.stage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.pipeline.StageSpec;
import dev.tally.core.testing.Sampling;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every parameter of the new processors, at and beyond its bounds. Each stage runs second in a
 * pipeline (after a harmless top_k) or as a {@code processors} entry, so the error must name the
 * field with its index: {@code pipeline[1].params.x}, {@code processors[0].params.x}.
 */
final class NewProcessorValidationTest {
  private static SamplingConfig inPipeline(StageSpec s) {
    return new SamplingConfig().pipeline(List.of(stage("top_k", "k", 50.0), s));
  }

  private static void assertInvalid(StageSpec s, String param) {
    TallyException e = refusal(inPipeline(s));
    assertThat(e.code()).as(e.getMessage()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(e.field()).as(e.getMessage()).isEqualTo("pipeline[1].params." + param);
    assertThat(e.getMessage()).contains(s.name() + "." + param);
    // The same stage under processors: the field follows the stage there too.
    TallyException p = refusal(new SamplingConfig().processors(List.of(s)));
    assertThat(p.field()).as(p.getMessage()).isEqualTo("processors[0].params." + param);
  }

  private static void assertValid(StageSpec s) {
    assertThatCode(() -> Sampling.compile(inPipeline(s))).as(s.name() + " " + s.params())
        .doesNotThrowAnyException();
  }

  private static TallyException refusal(SamplingConfig c) {
    try {
      Sampling.compile(c);
    } catch (TallyException e) {
      return e;
    }
    throw new AssertionError("expected the request to be refused");
  }

  /** Values beyond the bounds a number parameter must refuse, including non-finite ones. */
  private static void assertNumberBounds(String processor, String param, double[] valid,
      double[] invalid, Object... otherParams) {
    for (double v : valid) {
      assertValid(with(processor, param, v, otherParams));
    }
    for (double v : invalid) {
      assertInvalid(with(processor, param, v, otherParams), param);
    }
    for (double v : new double[] {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
      assertInvalid(with(processor, param, v, otherParams), param);
    }
    assertInvalid(with(processor, param, "0.5", otherParams), param);
    assertInvalid(with(processor, param, true, otherParams), param);
  }

  private static StageSpec with(String processor, String param, Object value, Object... others) {
    Map<String, Object> params = new HashMap<>(stage(processor, others).params());
    params.put(param, value);
    return new StageSpec(processor, params);
  }

  @Test
  void dynamicTemperature() {
    assertNumberBounds("dynamic_temperature", "temperature", new double[] {0, 1e-30, 1, 1e30},
        new double[] {-1e-9, -1});
    assertNumberBounds("dynamic_temperature", "delta", new double[] {0, 0.5, 100},
        new double[] {-1e-9, -0.5});
    assertNumberBounds("dynamic_temperature", "exponent", new double[] {0, 1, 10},
        new double[] {-1e-9, -1});
    TallyException unknown = refusal(inPipeline(stage("dynamic_temperature", "range", 1.0)));
    assertThat(unknown.field()).isEqualTo("pipeline[1].params.range");
    assertThat(unknown.getMessage()).contains("[temperature, delta, exponent]");
  }

  @Test
  void epsilonAndEtaCutoffs() {
    for (String name : List.of("epsilon_cutoff", "eta_cutoff")) {
      assertNumberBounds(name, "epsilon", new double[] {0, 3e-4, 0.999999},
          new double[] {-1e-9, 1, 1.5});
      assertValid(stage(name, "epsilon", 0.1, "min_tokens_to_keep", 1.0));
      assertValid(stage(name, "epsilon", 0.1, "min_tokens_to_keep", (double) Integer.MAX_VALUE));
      for (Object bad : new Object[] {0.0, -1.0, 2.5, (double) Integer.MAX_VALUE + 1, "3"}) {
        assertInvalid(stage(name, "epsilon", 0.1, "min_tokens_to_keep", bad),
            "min_tokens_to_keep");
      }
    }
  }

  @Test
  void xtc() {
    assertNumberBounds("xtc", "probability", new double[] {0, 0.5, 1},
        new double[] {-1e-9, 1.000001});
    assertNumberBounds("xtc", "threshold", new double[] {0, 0.1, 0.5, 1},
        new double[] {-1e-9, 1.000001});
    assertValid(stage("xtc", "min_keep", 0.0));
    assertValid(stage("xtc", "min_keep", (double) Integer.MAX_VALUE));
    for (Object bad : new Object[] {-1.0, 1.5, (double) Integer.MAX_VALUE + 1, false}) {
      assertInvalid(stage("xtc", "min_keep", bad), "min_keep");
    }
  }

  @Test
  void noRepeatNgram() {
    assertValid(stage("no_repeat_ngram", "ngram_size", 0.0));
    assertValid(stage("no_repeat_ngram", "ngram_size", 1.0));
    assertValid(stage("no_repeat_ngram", "ngram_size", (double) Integer.MAX_VALUE));
    for (Object bad : new Object[] {-1.0, 2.5, (double) Integer.MAX_VALUE + 1, Double.NaN, "3",
        List.of(3.0)}) {
      assertInvalid(stage("no_repeat_ngram", "ngram_size", bad), "ngram_size");
    }
  }

  /** Shapes a token_sequences parameter must refuse. */
  private static List<Object> badSequences() {
    List<Object> bad = new ArrayList<>();
    bad.add(3.0); // not a list
    bad.add(ids(1, 2)); // a flat list, not a list of lists
    bad.add(List.of(ids(1), List.of())); // an empty sequence
    bad.add(List.of(ids(1), "x")); // an element that is not a list
    bad.add(sequences(new int[] {1, -1})); // a negative id
    bad.add(List.of(List.of(1.5))); // not an integer
    bad.add(List.of(List.of(3e9))); // beyond int
    bad.add(List.of(List.of("1"))); // a string
    bad.add(Map.of("1", 1.0)); // an object
    return bad;
  }

  @Test
  void badWords() {
    assertValid(stage("bad_words", "sequences", sequences(new int[] {0})));
    assertValid(stage("bad_words", "sequences", List.of())); // nothing to ban: allowed, a no-op
    assertValid(stage("bad_words", "sequences", sequences(new int[] {1, 2, 3}),
        "eos_token_ids", ids(0, 2)));
    for (Object bad : badSequences()) {
      assertInvalid(stage("bad_words", "sequences", bad), "sequences");
    }
    assertInvalid(stage("bad_words"), "sequences"); // required
    Map<String, Object> nullValue = new HashMap<>();
    nullValue.put("sequences", null); // JSON null: absent
    assertInvalid(new StageSpec("bad_words", nullValue), "sequences");
    assertInvalid(stage("bad_words", "sequences", sequences(new int[] {1}),
        "eos_token_ids", ids(-1)), "eos_token_ids");
    assertInvalid(stage("bad_words", "sequences", sequences(new int[] {1}),
        "eos_token_ids", 2.0), "eos_token_ids");
  }

  @Test
  void sequenceBias() {
    assertValid(stage("sequence_bias", "sequences", sequences(new int[] {0}), "bias", -100.0));
    assertValid(stage("sequence_bias", "sequences", sequences(new int[] {0, 1}), "bias", 1e30));
    for (Object bad : badSequences()) {
      assertInvalid(stage("sequence_bias", "sequences", bad, "bias", 1.0), "sequences");
    }
    assertInvalid(stage("sequence_bias", "bias", 1.0), "sequences");
    assertInvalid(stage("sequence_bias", "sequences", sequences(new int[] {1})), "bias");
    for (Object bad : new Object[] {Double.NaN, Double.POSITIVE_INFINITY,
        Double.NEGATIVE_INFINITY, "1", List.of(1.0)}) {
      assertInvalid(stage("sequence_bias", "sequences", sequences(new int[] {1}), "bias", bad),
          "bias");
    }
  }

  @Test
  void errorsNameTheElementOfATokenSequence() {
    TallyException e = refusal(inPipeline(stage("bad_words", "sequences",
        List.of(ids(1, 2), ids(3, -4)))));
    assertThat(e.getMessage()).contains("bad_words.sequences[1]").contains("-4");
    TallyException empty = refusal(inPipeline(stage("sequence_bias", "sequences",
        List.of(ids(1), List.of()), "bias", 1.0)));
    assertThat(empty.getMessage()).contains("sequence_bias.sequences[1]").contains("non-empty");
    TallyException fraction = refusal(inPipeline(stage("bad_words", "sequences",
        List.of(ids(1), List.of(2.0, 2.5)))));
    assertThat(fraction.getMessage()).contains("bad_words.sequences[1][1]").contains("integer");
  }
}
