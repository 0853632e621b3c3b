/**
 * Reads a Hugging Face {@code tokenizer.json} into each token id's raw output bytes and its
 * special ids ({@link dev.tally.server.vocab.TokenizerJson}).
 */
package dev.tally.server.vocab;
