package dev.tally.core.vocab;

import static dev.tally.core.vocab.VocabularyFixture.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import org.junit.jupiter.api.Test;

final class VocabularyRegistryTest {
  private static Vocabulary abc(String name) {
    return VocabularyFixture.of(name, new int[] {2}, new int[] {2}, utf8("a"), utf8("bc"),
        utf8("<eos>"));
  }

  @Test
  void aVocabularyKeepsEachTokensBytesAndWhichAreText() {
    Vocabulary v = abc("m");
    assertThat(v.size()).isEqualTo(3);
    assertThat(v.tokenBytes(1)).isEqualTo(utf8("bc"));
    assertThat(v.textLength(1)).isEqualTo(2);
    assertThat(v.isText(2)).isFalse();
    assertThat(v.isSpecial(2)).isTrue();
    assertThat(v.textLength(2)).isZero(); // special: registered bytes, but never text
    assertThat(v.tokenBytes(2)).isEqualTo(utf8("<eos>"));
    assertThat(v.isText(3)).isFalse(); // padding
    assertThat(v.textLength(-1)).isZero();
    assertThat(v.eosTokenIds()).containsExactly(2);
    assertThat(v.tokenByteCount()).isEqualTo(8);
    assertThat(v.fingerprint()).hasSize(64).isEqualTo(abc("other-name").fingerprint());
    assertThat(VocabularyFixture.of("m", new int[] {2}, new int[0], utf8("a"), utf8("bc"),
        utf8("<eos>")).fingerprint()).isNotEqualTo(v.fingerprint());
    // Same bytes, other split: another vocabulary.
    assertThat(VocabularyFixture.of("m", new int[] {2}, new int[] {2}, utf8("ab"), utf8("c"),
        utf8("<eos>")).fingerprint()).isNotEqualTo(v.fingerprint());
  }

  @Test
  void theWireFormIsCheckedFieldByField() {
    assertThatThrownBy(() -> Vocabulary.of("m", utf8("abc"), new int[] {1, 1}, new int[0],
        new int[0])).isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
          assertThat(e.field()).isEqualTo("token_bytes");
          assertThat(e.getMessage())
              .isEqualTo("token_bytes holds 3 bytes but the token lengths add up to 2");
        });
    assertThatThrownBy(() -> Vocabulary.of("m", utf8("abc"), new int[] {2, 2}, new int[0],
        new int[0])).hasMessage(
            "the token lengths add up to more than the 3 bytes of token_bytes (at token 1)");
    assertThatThrownBy(() -> Vocabulary.of("m", utf8("ab"), new int[] {1, 1}, new int[] {2},
        new int[0])).hasMessage("special_token_ids names token 2, outside the vocabulary's 2 tokens");
    assertThatThrownBy(() -> Vocabulary.of("m", utf8("ab"), new int[] {1, 1}, new int[0],
        new int[] {1, 1})).hasMessage("eos_token_ids names token 1 twice");
    assertThatThrownBy(() -> Vocabulary.of("", utf8("a"), new int[] {1}, new int[0], new int[0]))
        .isInstanceOfSatisfying(TallyException.class, e -> assertThat(e.field()).isEqualTo("name"));
    assertThatThrownBy(() -> Vocabulary.of("m", new byte[0], new int[0], new int[0], new int[0]))
        .hasMessage("a vocabulary needs at least one token");
  }

  @Test
  void registrationIsIdempotentAndATakenNameRefusesOtherTokens() {
    VocabularyRegistry registry = new VocabularyRegistry(8, 1 << 20);
    assertThat(registry.register(abc("llama"))).isTrue();
    assertThat(registry.register(abc("llama"))).isFalse();
    assertThat(registry.list()).extracting(Vocabulary::name).containsExactly("llama");
    Vocabulary other = VocabularyFixture.of("llama", new int[0], new int[0], utf8("x"));
    assertThatThrownBy(() -> registry.register(other))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.VOCABULARY_EXISTS);
          assertThat(e.getMessage()).startsWith("vocabulary 'llama' is registered already with"
              + " other tokens (fingerprint " + abc("x").fingerprint().substring(0, 12) + ")");
        });
    assertThat(registry.unregister("llama")).isTrue();
    assertThat(registry.unregister("llama")).isFalse();
    assertThat(registry.bytes()).isZero();
    assertThat(registry.register(other)).isTrue();
  }

  @Test
  void lookupOfAnUnknownNameSaysWhatIsRegistered() {
    VocabularyRegistry registry = new VocabularyRegistry(8, 1 << 20);
    assertThatThrownBy(() -> registry.lookup("qwen", "vocabulary"))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_VOCABULARY);
          assertThat(e.field()).isEqualTo("vocabulary");
          assertThat(e.getMessage()).isEqualTo(
              "no vocabulary named 'qwen' is registered (none is; see RegisterVocabulary)");
        });
    registry.register(abc("b"));
    registry.register(abc("a"));
    assertThatThrownBy(() -> registry.lookup("qwen", "vocabulary"))
        .hasMessage("no vocabulary named 'qwen' is registered; registered: a, b");
    assertThat(registry.lookup("a", "vocabulary").name()).isEqualTo("a");
  }

  @Test
  void countAndByteLimitsRefuseWithLimitExceeded() {
    VocabularyRegistry two = new VocabularyRegistry(2, 1 << 20);
    two.register(abc("a"));
    two.register(abc("b"));
    assertThatThrownBy(() -> two.register(abc("c")))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
          assertThat(e.getMessage())
              .isEqualTo("this server holds 2 vocabularies, its limit (max_vocabularies)");
        });
    long one = abc("a").memoryBytes();
    VocabularyRegistry small = new VocabularyRegistry(8, one + 1);
    small.register(abc("a"));
    assertThatThrownBy(() -> small.register(abc("b")))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
          assertThat(e.getMessage()).isEqualTo("vocabulary 'b' needs " + one + " bytes; 1 of this"
              + " server's " + (one + 1) + " (max_vocabulary_bytes) are left");
        });
    assertThatThrownBy(() -> VocabularyRegistry.none().register(abc("a")))
        .isInstanceOfSatisfying(TallyException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED));
  }
}
