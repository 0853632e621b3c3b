package dev.tally.structured.automaton;

import dev.tally.spi.TokenVocabulary;

/**
 * A vocabulary's text tokens packed for walking: one byte array and offsets, read once from the
 * {@link TokenVocabulary} and shared by every constraint over it. Special and padded ids have no
 * bytes.
 */
public final class TokenTable {
  private final TokenVocabulary vocabulary;
  private final byte[] bytes;
  private final int[] offsets;
  private volatile TokenTrie trie;

  public TokenTable(TokenVocabulary vocabulary) {
    this.vocabulary = vocabulary;
    int size = vocabulary.size();
    offsets = new int[size + 1];
    long total = 0;
    for (int id = 0; id < size; id++) {
      total += vocabulary.textLength(id);
      offsets[id + 1] = (int) total;
    }
    bytes = new byte[(int) total];
    for (int id = 0; id < size; id++) {
      vocabulary.copyTextTail(id, offsets[id + 1] - offsets[id], bytes, offsets[id]);
    }
  }

  public TokenVocabulary vocabulary() {
    return vocabulary;
  }

  /** The tokens as a trie, built on first use (a constraint's first mask). */
  TokenTrie trie() {
    TokenTrie t = trie;
    if (t == null) {
      synchronized (this) {
        t = trie;
        if (t == null) {
          t = new TokenTrie(this);
          trie = t;
        }
      }
    }
    return t;
  }

  public int size() {
    return offsets.length - 1;
  }

  int start(int id) {
    return offsets[id];
  }

  int end(int id) {
    return offsets[id + 1];
  }

  byte at(int i) {
    return bytes[i];
  }

  /** The token's text, for messages: UTF-8 where it decodes, escapes where it does not. */
  public String describe(int id) {
    if (id < 0 || id >= size()) {
      return "padding id " + id;
    }
    if (!vocabulary.isText(id)) {
      return "special token " + id;
    }
    StringBuilder s = new StringBuilder("token ").append(id).append(" '");
    for (int i = offsets[id]; i < offsets[id + 1]; i++) {
      int b = bytes[i] & 0xFF;
      if (b >= 0x20 && b < 0x7F && b != '\'' && b != '\\') {
        s.append((char) b);
      } else {
        s.append(String.format("\\x%02x", b));
      }
    }
    return s.append('\'').toString();
  }
}
