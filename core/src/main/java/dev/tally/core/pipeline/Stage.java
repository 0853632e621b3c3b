package dev.tally.core.pipeline;

import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.TokenSelector;

/** One compiled stage: a processor or a selector, with the names errors and traces show. */
public final class Stage {
  private final String name;
  private final String plugin;
  private final LogitsProcessor processor;
  private final TokenSelector selector;

  private Stage(String name, String plugin, LogitsProcessor processor, TokenSelector selector) {
    this.name = name;
    this.plugin = plugin;
    this.processor = processor;
    this.selector = selector;
  }

  static Stage processor(String name, String plugin, LogitsProcessor p) {
    return new Stage(name, plugin, p, null);
  }

  static Stage selector(String name, String plugin, TokenSelector s) {
    return new Stage(name, plugin, null, s);
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
}
