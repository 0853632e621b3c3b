package dev.tally.core.registry;

/** What a registered factory makes. */
public enum StageKind {
  /** A {@link dev.tally.spi.LogitsProcessor}. */
  PROCESSOR,
  /** A {@link dev.tally.spi.TokenSelector}, which ends a chain. */
  SELECTOR
}
