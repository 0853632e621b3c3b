package dev.tally.core.processor;

import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.TokenSelector;
import java.util.List;
import java.util.function.Function;

/** Builds the built-in factories from a name, a description, a schema and a constructor. */
final class Factories {
  private Factories() {}

  static ProcessorFactory processor(String name, String description, List<ParamSpec> params,
      Function<Params, LogitsProcessor> create) {
    return new ProcessorFactory() {
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
        return params;
      }

      @Override
      public LogitsProcessor create(Params p) {
        return create.apply(p);
      }
    };
  }

  static SelectorFactory selector(String name, String description, List<ParamSpec> params,
      Function<Params, TokenSelector> create) {
    return new SelectorFactory() {
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
        return params;
      }

      @Override
      public TokenSelector create(Params p) {
        return create.apply(p);
      }
    };
  }
}
