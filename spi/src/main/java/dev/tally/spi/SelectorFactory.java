package dev.tally.spi;

/** Creates {@link TokenSelector}s; see {@link NamedFactory} for the contract. */
public interface SelectorFactory extends NamedFactory<TokenSelector> {}
