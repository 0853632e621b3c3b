package dev.tally.core.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.processor.BuiltinPlugin;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import dev.tally.spi.TokenSelector;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

final class ProcessorRegistryTest {
  private static ProcessorFactory processor(String name, ParamSpec... params) {
    return new ProcessorFactory() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String description() {
        return "Test.";
      }

      @Override
      public List<ParamSpec> params() {
        return List.of(params);
      }

      @Override
      public LogitsProcessor create(Params p) {
        return (c, ctx) -> {};
      }
    };
  }

  private static SelectorFactory selector(String name) {
    return new SelectorFactory() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String description() {
        return "Test.";
      }

      @Override
      public List<ParamSpec> params() {
        return List.of();
      }

      @Override
      public TokenSelector create(Params p) {
        return (c, ctx) -> 0;
      }
    };
  }

  private static TallyPlugin plugin(String name, int spiMajor, List<ProcessorFactory> processors,
      List<SelectorFactory> selectors) {
    return new TallyPlugin() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public int spiMajorVersion() {
        return spiMajor;
      }

      @Override
      public List<ProcessorFactory> processorFactories() {
        return processors;
      }

      @Override
      public List<SelectorFactory> selectorFactories() {
        return selectors;
      }
    };
  }

  private static TallyPlugin plugin(String name, ProcessorFactory... processors) {
    return plugin(name, SpiVersion.MAJOR, List.of(processors), List.of());
  }

  @Test
  void serviceLoaderFindsTheBuiltins() {
    ProcessorRegistry r = ProcessorRegistry.fromServiceLoader(getClass().getClassLoader());
    assertThat(r.all()).extracting(RegisteredFactory::name).containsExactly("allowed_tokens",
        "bad_words", "banned_tokens", "draw", "dynamic_temperature", "epsilon_cutoff",
        "eta_cutoff", "greedy", "logit_bias", "min_p", "min_tokens", "no_repeat_ngram",
        "presence_frequency_penalty", "repetition_penalty", "sequence_bias", "temperature",
        "top_k", "top_n_sigma", "top_p", "typical_p", "xtc");
    assertThat(r.all()).allSatisfy(f -> {
      assertThat(f.plugin()).isEqualTo(BuiltinPlugin.NAME);
      assertThat(f.description()).isNotBlank();
    });
    assertThat(r.lookup("draw", "x").kind()).isEqualTo(StageKind.SELECTOR);
    assertThat(r.lookup("greedy", "x").kind()).isEqualTo(StageKind.SELECTOR);
    assertThat(r.lookup("top_p", "x").kind()).isEqualTo(StageKind.PROCESSOR);
    assertThat(r.lookup("top_p", "x").param("p").rangeText()).isEqualTo("(0, 1]");
    assertThat(r.lookup("top_p", "x").param("q")).isNull();
    assertThat(r.plugins()).hasSize(1);
    assertThat(ProcessorRegistry.namesOf(r.plugins().get(0))).hasSize(21).contains("draw");
  }

  @Test
  void lookupOfAnUnknownNameListsTheKnownOnes() {
    ProcessorRegistry r = ProcessorRegistry.builder().install(plugin("p", processor("b_one"),
        processor("a_two"))).build();
    assertThatThrownBy(() -> r.lookup("zzz", "pipeline[3].name"))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_PROCESSOR);
          assertThat(e.field()).isEqualTo("pipeline[3].name");
          assertThat(e.getMessage()).contains("'zzz'").contains("a_two, b_one");
        });
  }

  @Test
  void duplicateNamesAcrossPluginsNameBothPlugins() {
    ProcessorRegistry.Builder b = ProcessorRegistry.builder().install(new BuiltinPlugin());
    assertThatThrownBy(() -> b.install(plugin("acme", processor("top_k"))))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("top_k").hasMessageContaining("builtin").hasMessageContaining("acme");
    ProcessorRegistry.Builder selectors = ProcessorRegistry.builder().install(
        plugin("one", SpiVersion.MAJOR, List.of(), List.of(selector("pick"))));
    assertThatThrownBy(() -> selectors.install(plugin("two", processor("pick"))))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("pick").hasMessageContaining("one").hasMessageContaining("two");
  }

  @Test
  void spiMajorMismatchIsRefused() {
    assertThatThrownBy(() -> ProcessorRegistry.builder().install(plugin("future",
        SpiVersion.MAJOR + 1, List.of(processor("x")), List.of())))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("future")
        .hasMessageContaining((SpiVersion.MAJOR + 1) + ".x").hasMessageContaining(SpiVersion.CURRENT);
    assertThatThrownBy(() -> ProcessorRegistry.builder().install(plugin("past", 0,
        List.of(processor("x")), List.of()))).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void badNamesAreRefused() {
    for (String bad : new String[] {"TopK", "1abc", "", "a-b", "_x", "top k"}) {
      assertThatThrownBy(() -> ProcessorRegistry.builder().install(plugin("acme", processor(bad))))
          .as("name '%s'", bad).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("acme");
    }
    assertThatThrownBy(() -> ProcessorRegistry.builder().install(plugin("acme", processor(null))))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("acme");
    assertThatThrownBy(() -> ProcessorRegistry.builder().install(plugin("acme", SpiVersion.MAJOR,
        List.of(), List.of(selector("Bad"))))).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aParameterDeclaredTwiceIsRefused() {
    assertThatThrownBy(() -> ProcessorRegistry.builder().install(plugin("acme",
        processor("x", ParamSpec.number("a", "A."), ParamSpec.integer("a", "A again.")))))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("'a'")
        .hasMessageContaining("acme");
  }

  @Test
  void pluginsAreKeptInInstallationOrder() {
    TallyPlugin a = plugin("a", processor("x"));
    TallyPlugin b = plugin("b", processor("y"));
    ProcessorRegistry r = ProcessorRegistry.builder().install(b).install(a).build();
    assertThat(r.plugins()).containsExactly(b, a);
    assertThat(r.lookup("x", "f").plugin()).isEqualTo("a");
  }

  @Test
  void binderFillsDefaultsAndConvertsJsonNumbers() {
    ProcessorRegistry r = ProcessorRegistry.fromServiceLoader(getClass().getClassLoader());
    Params p = ParamBinder.bind(r.lookup("repetition_penalty", "f"), Map.of("penalty", 1.5),
        ParamBinder.nested("pipeline[0]", "repetition_penalty"));
    assertThat(p.getDouble("penalty")).isEqualTo(1.5);
    assertThat(p.getLong("last_n")).isEqualTo(-1L); // the default
    Params k = ParamBinder.bind(r.lookup("top_k", "f"), Map.of("k", 3.0),
        ParamBinder.nested("pipeline[0]", "top_k"));
    assertThat(k.getLong("k")).isEqualTo(3L);
    Params bias = ParamBinder.bind(r.lookup("logit_bias", "f"), Map.of("bias",
        Map.of("7", -1.0, "2", Double.NEGATIVE_INFINITY)), ParamBinder.nested("p", "logit_bias"));
    assertThat(bias.getTokenBias("bias").tokenId(0)).isEqualTo(2);
    assertThat(bias.getTokenBias("bias").bias(0)).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(bias.getTokenBias("bias").bias(1)).isEqualTo(-1f);
  }
}
