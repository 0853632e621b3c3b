package dev.tally.core.processor;

import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.NamedFactory;
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
    final class Processor extends Described<LogitsProcessor> implements ProcessorFactory {
      Processor() {
        super(name, description, params, create);
      }
    }
    return new Processor();
  }

  static SelectorFactory selector(String name, String description, List<ParamSpec> params,
      Function<Params, TokenSelector> create) {
    final class Selector extends Described<TokenSelector> implements SelectorFactory {
      Selector() {
        super(name, description, params, create);
      }
    }
    return new Selector();
  }

  /** What both kinds share: the catalogue entry and the constructor. */
  private abstract static class Described<T> implements NamedFactory<T> {
    private final String name;
    private final String description;
    private final List<ParamSpec> params;
    private final Function<Params, T> create;

    Described(String name, String description, List<ParamSpec> params,
        Function<Params, T> create) {
      this.name = name;
      this.description = description;
      this.params = List.copyOf(params);
      this.create = create;
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
      return params;
    }

    @Override
    public T create(Params p) {
      return create.apply(p);
    }
  }
}
