package dev.tally.core.vocab;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Builds test vocabularies from token bytes. */
final class VocabularyFixture {
  private VocabularyFixture() {}

  static Vocabulary of(String name, int[] special, int[] eos, byte[]... tokens) {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    int[] lengths = new int[tokens.length];
    for (int i = 0; i < tokens.length; i++) {
      all.writeBytes(tokens[i]);
      lengths[i] = tokens[i].length;
    }
    return Vocabulary.of(name, all.toByteArray(), lengths, special, eos);
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }
}
