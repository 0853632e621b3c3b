package dev.tally.core.pipeline;

import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SequenceState;
import dev.tally.spi.StatefulProcessor;
import dev.tally.spi.StatefulSelector;
import dev.tally.spi.TokenSelector;

/**
 * One compiled stage: a processor or a selector, with the names errors and traces show.
 *
 * <p>A stage compiled from a {@link StatefulProcessor} or {@link StatefulSelector} is stateless as
 * compiled: each call builds a fresh state from the row's history (the {@code Sample} path). {@link
 * #bind()} gives a copy for one sequence whose processor or selector keeps the state in a {@link
 * StateSlot} across steps (the {@code Session} path). Either way the engine calls the plain
 * {@link LogitsProcessor#apply} / {@link TokenSelector#select}.
 */
public final class Stage {
  private final String name;
  private final String plugin;
  private final LogitsProcessor processor;
  private final TokenSelector selector;
  private final StateSlot slot;

  private Stage(String name, String plugin, LogitsProcessor processor, TokenSelector selector,
      StateSlot slot) {
    this.name = name;
    this.plugin = plugin;
    this.processor = processor;
    this.selector = selector;
    this.slot = slot;
  }

  static Stage processor(String name, String plugin, LogitsProcessor p) {
    return new Stage(name, plugin, p, null, null);
  }

  static Stage selector(String name, String plugin, TokenSelector s) {
    return new Stage(name, plugin, null, s, null);
  }

  public String name() {
    return name;
  }

  public String plugin() {
    return plugin;
  }

  /** The processor, or {@code null} for a selector stage. */
  public LogitsProcessor processor() {
    return processor;
  }

  /** The selector, or {@code null} for a processor stage. */
  public TokenSelector selector() {
    return selector;
  }

  /** Whether the stage keeps per-sequence state. */
  public boolean isStateful() {
    return (processor instanceof StatefulProcessor) || (selector instanceof StatefulSelector)
        || slot != null;
  }

  /** The slot of a bound stateful stage, or {@code null}. */
  StateSlot slot() {
    return slot;
  }

  /**
   * This stage for one sequence: a stateful stage gets its own empty {@link StateSlot}; a
   * stateless one is shared as it is. Binding a bound stage binds its unbound original.
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  Stage bind() {
    if (processor instanceof StatefulProcessor) {
      StatefulProcessor stateful = (StatefulProcessor) processor;
      StateSlot s = new StateSlot(stateful::newState);
      return new Stage(name, plugin, new BoundProcessor(stateful, s), null, s);
    }
    if (processor instanceof BoundProcessor) {
      return processor(name, plugin, ((BoundProcessor) processor).stateful).bind();
    }
    if (selector instanceof StatefulSelector) {
      StatefulSelector stateful = (StatefulSelector) selector;
      StateSlot s = new StateSlot(stateful::newState);
      return new Stage(name, plugin, null, new BoundSelector(stateful, s), s);
    }
    if (selector instanceof BoundSelector) {
      return selector(name, plugin, ((BoundSelector) selector).stateful).bind();
    }
    return this;
  }

  /** A stateful processor with its sequence's state. */
  private static final class BoundProcessor implements LogitsProcessor {
    private final StatefulProcessor<SequenceState> stateful;
    private final StateSlot slot;

    BoundProcessor(StatefulProcessor<SequenceState> stateful, StateSlot slot) {
      this.stateful = stateful;
      this.slot = slot;
    }

    @Override
    public void apply(Candidates candidates, SamplingContext context) {
      SequenceState state = slot.stateFor(context.history());
      boolean done = false;
      try {
        stateful.apply(candidates, context, state);
        done = true;
      } finally {
        if (!done) {
          slot.discard(); // half-applied state is not trusted: rebuild it next step
        }
      }
    }
  }

  /** A stateful selector with its sequence's state. */
  private static final class BoundSelector implements TokenSelector {
    private final StatefulSelector<SequenceState> stateful;
    private final StateSlot slot;

    BoundSelector(StatefulSelector<SequenceState> stateful, StateSlot slot) {
      this.stateful = stateful;
      this.slot = slot;
    }

    @Override
    public int select(Candidates candidates, SamplingContext context) {
      SequenceState state = slot.stateFor(context.history());
      boolean done = false;
      try {
        int chosen = stateful.select(candidates, context, state);
        done = true;
        return chosen;
      } finally {
        if (!done) {
          slot.discard();
        }
      }
    }

    @Override
    public boolean isDeterministic() {
      return stateful.isDeterministic();
    }
  }
}
