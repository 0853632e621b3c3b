package dev.tally.spi;

import java.util.List;

/**
 * The entry point of a plugin, found with {@link java.util.ServiceLoader}.
 *
 * <p>Every method has a default, so that new kinds of extension can be added to the SPI without
 * breaking plugins built against an older minor version. A plugin overrides what it contributes.
 */
public interface TallyPlugin {
  /** The plugin's name as shown in logs and {@code ListProcessors}; defaults to the class name. */
  default String name() {
    return getClass().getSimpleName();
  }

  /** The plugin's own version, shown in the catalogue. */
  default String version() {
    Package p = getClass().getPackage();
    String v = p == null ? null : p.getImplementationVersion();
    return v == null ? "unversioned" : v;
  }

  /**
   * The {@link SpiVersion#MAJOR major SPI version} the plugin was built for. The default returns
   * the <em>server's</em> constant, so it can never disagree: a plugin that wants the check without
   * a jar manifest overrides it with {@code return SpiVersion.MAJOR;}, which the compiler inlines
   * into the plugin's own class. Plugins built with Tally's Maven setup carry a {@code
   * Tally-Spi-Version} manifest attribute instead, which the server checks first.
   */
  default int spiMajorVersion() {
    return SpiVersion.MAJOR;
  }

  /** Processors: stages that rewrite logits or remove candidates. */
  default List<ProcessorFactory> processorFactories() {
    return List.of();
  }

  /** Selectors: stages that choose the token and end a chain. */
  default List<SelectorFactory> selectorFactories() {
    return List.of();
  }
}
