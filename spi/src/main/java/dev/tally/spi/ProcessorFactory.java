package dev.tally.spi;

/** Creates {@link LogitsProcessor}s; see {@link NamedFactory} for the contract. */
public interface ProcessorFactory extends NamedFactory<LogitsProcessor> {}
