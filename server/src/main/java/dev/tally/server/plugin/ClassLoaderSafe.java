package dev.tally.server.plugin;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.ParamSpec;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SelectorFactory;
import dev.tally.spi.SequenceState;
import dev.tally.spi.StatefulProcessor;
import dev.tally.spi.StatefulSelector;
import dev.tally.spi.TallyPlugin;
import dev.tally.spi.TokenHistory;
import dev.tally.spi.TokenSelector;
import java.util.ArrayList;
import java.util.List;

/**
 * Decorators that run every call into a plugin with the plugin's class loader as the thread's
 * context class loader (Trino's {@code ClassLoaderSafe*} wrappers), applied once when a plugin is
 * loaded: the factories a plugin hands out are wrapped, and so is everything they create
 * (processors, selectors, states). The engine never sees an unwrapped plugin object, so it needs
 * no class-loader logic of its own.
 *
 * <p>Each wrapper overrides every method of its SPI interface, default methods included;
 * {@code ClassLoaderSafeTest} checks that, so a method added to the SPI cannot slip through
 * unwrapped. Hot-path methods set and restore the loader inline (two field writes, no
 * allocation).
 */
final class ClassLoaderSafe {
  private ClassLoaderSafe() {}

  /** Wraps a plugin found in {@code loader}. */
  static TallyPlugin plugin(TallyPlugin plugin, ClassLoader loader) {
    return new SafePlugin(plugin, loader);
  }

  static final class SafePlugin implements TallyPlugin {
    private final TallyPlugin delegate;
    private final ClassLoader loader;

    SafePlugin(TallyPlugin delegate, ClassLoader loader) {
      this.delegate = delegate;
      this.loader = loader;
    }

    /** The plugin's own object, for messages that name its class. */
    TallyPlugin delegate() {
      return delegate;
    }

    @Override
    public String name() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.name();
      }
    }

    @Override
    public String version() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.version();
      }
    }

    @Override
    public int spiMajorVersion() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.spiMajorVersion();
      }
    }

    @Override
    public List<ProcessorFactory> processorFactories() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        List<ProcessorFactory> out = new ArrayList<>();
        for (ProcessorFactory f : delegate.processorFactories()) {
          out.add(new SafeProcessorFactory(f, loader));
        }
        return out;
      }
    }

    @Override
    public List<SelectorFactory> selectorFactories() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        List<SelectorFactory> out = new ArrayList<>();
        for (SelectorFactory f : delegate.selectorFactories()) {
          out.add(new SafeSelectorFactory(f, loader));
        }
        return out;
      }
    }

    @Override
    public String toString() {
      return delegate.getClass().getName() + " in " + loader;
    }
  }

  static final class SafeProcessorFactory implements ProcessorFactory {
    private final ProcessorFactory delegate;
    private final ClassLoader loader;

    SafeProcessorFactory(ProcessorFactory delegate, ClassLoader loader) {
      this.delegate = delegate;
      this.loader = loader;
    }

    @Override
    public String name() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.name();
      }
    }

    @Override
    public String description() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.description();
      }
    }

    @Override
    public List<ParamSpec> params() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.params();
      }
    }

    @Override
    public LogitsProcessor create(Params params) {
      LogitsProcessor made;
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        made = delegate.create(params);
      }
      if (made == null) {
        throw new IllegalStateException("create returned null");
      }
      return processor(made, loader);
    }
  }

  static final class SafeSelectorFactory implements SelectorFactory {
    private final SelectorFactory delegate;
    private final ClassLoader loader;

    SafeSelectorFactory(SelectorFactory delegate, ClassLoader loader) {
      this.delegate = delegate;
      this.loader = loader;
    }

    @Override
    public String name() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.name();
      }
    }

    @Override
    public String description() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.description();
      }
    }

    @Override
    public List<ParamSpec> params() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.params();
      }
    }

    @Override
    public TokenSelector create(Params params) {
      TokenSelector made;
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        made = delegate.create(params);
      }
      if (made == null) {
        throw new IllegalStateException("create returned null");
      }
      return selector(made, loader);
    }
  }

  /** The right wrapper for what a processor factory made: stateful processors stay stateful. */
  @SuppressWarnings("unchecked")
  static LogitsProcessor processor(LogitsProcessor p, ClassLoader loader) {
    return p instanceof StatefulProcessor
        ? new SafeStatefulProcessor((StatefulProcessor<SequenceState>) p, loader)
        : new SafeProcessor(p, loader);
  }

  /** The right wrapper for what a selector factory made: stateful selectors stay stateful. */
  @SuppressWarnings("unchecked")
  static TokenSelector selector(TokenSelector s, ClassLoader loader) {
    return s instanceof StatefulSelector
        ? new SafeStatefulSelector((StatefulSelector<SequenceState>) s, loader)
        : new SafeSelector(s, loader);
  }

  static final class SafeProcessor implements LogitsProcessor {
    private final LogitsProcessor delegate;
    private final ClassLoader loader;

    SafeProcessor(LogitsProcessor delegate, ClassLoader loader) {
      this.delegate = delegate;
      this.loader = loader;
    }

    @Override
    public void apply(Candidates candidates, SamplingContext context) {
      Thread t = Thread.currentThread();
      ClassLoader previous = t.getContextClassLoader();
      t.setContextClassLoader(loader);
      try {
        delegate.apply(candidates, context);
      } finally {
        t.setContextClassLoader(previous);
      }
    }
  }

  static final class SafeStatefulProcessor implements StatefulProcessor<SequenceState> {
    private final StatefulProcessor<SequenceState> delegate;
    private final ClassLoader loader;

    SafeStatefulProcessor(StatefulProcessor<SequenceState> delegate, ClassLoader loader) {
      this.delegate = delegate;
      this.loader = loader;
    }

    @Override
    public SequenceState newState(TokenHistory history) {
      SequenceState made;
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        made = delegate.newState(history);
      }
      if (made == null) {
        throw new IllegalStateException("newState returned null");
      }
      return new SafeState(made, loader);
    }

    @Override
    public void apply(Candidates candidates, SamplingContext context, SequenceState state) {
      Thread t = Thread.currentThread();
      ClassLoader previous = t.getContextClassLoader();
      t.setContextClassLoader(loader);
      try {
        delegate.apply(candidates, context, SafeState.unwrap(state));
      } finally {
        t.setContextClassLoader(previous);
      }
    }

    @Override
    public void apply(Candidates candidates, SamplingContext context) {
      Thread t = Thread.currentThread();
      ClassLoader previous = t.getContextClassLoader();
      t.setContextClassLoader(loader);
      try {
        delegate.apply(candidates, context);
      } finally {
        t.setContextClassLoader(previous);
      }
    }
  }

  static final class SafeSelector implements TokenSelector {
    private final TokenSelector delegate;
    private final ClassLoader loader;

    SafeSelector(TokenSelector delegate, ClassLoader loader) {
      this.delegate = delegate;
      this.loader = loader;
    }

    @Override
    public int select(Candidates candidates, SamplingContext context) {
      Thread t = Thread.currentThread();
      ClassLoader previous = t.getContextClassLoader();
      t.setContextClassLoader(loader);
      try {
        return delegate.select(candidates, context);
      } finally {
        t.setContextClassLoader(previous);
      }
    }

    @Override
    public boolean isDeterministic() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.isDeterministic();
      }
    }
  }

  static final class SafeStatefulSelector implements StatefulSelector<SequenceState> {
    private final StatefulSelector<SequenceState> delegate;
    private final ClassLoader loader;

    SafeStatefulSelector(StatefulSelector<SequenceState> delegate, ClassLoader loader) {
      this.delegate = delegate;
      this.loader = loader;
    }

    @Override
    public SequenceState newState(TokenHistory history) {
      SequenceState made;
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        made = delegate.newState(history);
      }
      if (made == null) {
        throw new IllegalStateException("newState returned null");
      }
      return new SafeState(made, loader);
    }

    @Override
    public int select(Candidates candidates, SamplingContext context, SequenceState state) {
      Thread t = Thread.currentThread();
      ClassLoader previous = t.getContextClassLoader();
      t.setContextClassLoader(loader);
      try {
        return delegate.select(candidates, context, SafeState.unwrap(state));
      } finally {
        t.setContextClassLoader(previous);
      }
    }

    @Override
    public int select(Candidates candidates, SamplingContext context) {
      Thread t = Thread.currentThread();
      ClassLoader previous = t.getContextClassLoader();
      t.setContextClassLoader(loader);
      try {
        return delegate.select(candidates, context);
      } finally {
        t.setContextClassLoader(previous);
      }
    }

    @Override
    public boolean isDeterministic() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        return delegate.isDeterministic();
      }
    }
  }

  static final class SafeState implements SequenceState {
    private final SequenceState delegate;
    private final ClassLoader loader;

    SafeState(SequenceState delegate, ClassLoader loader) {
      this.delegate = delegate;
      this.loader = loader;
    }

    /** The plugin's own state object behind a wrapper (or the object itself). */
    static SequenceState unwrap(SequenceState state) {
      return state instanceof SafeState ? ((SafeState) state).delegate : state;
    }

    @Override
    public void accept(int tokenId) {
      Thread t = Thread.currentThread();
      ClassLoader previous = t.getContextClassLoader();
      t.setContextClassLoader(loader);
      try {
        delegate.accept(tokenId);
      } finally {
        t.setContextClassLoader(previous);
      }
    }

    @Override
    public void reset() {
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        delegate.reset();
      }
    }

    @Override
    public SequenceState copy() {
      SequenceState copy;
      try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
        copy = delegate.copy();
      }
      if (copy == null) {
        throw new IllegalStateException("copy returned null");
      }
      return new SafeState(copy, loader);
    }
  }
}
