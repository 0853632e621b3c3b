package dev.tally.core.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.pipeline.SamplingConfig;
import dev.tally.core.tensor.LogitsTensor;
import dev.tally.core.testing.Sampling;
import dev.tally.core.vocab.Vocabulary;
import dev.tally.core.vocab.VocabularyRegistry;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Stop strings and a named vocabulary, through the compiler and the row sampler. */
final class StopStringSamplingTest {
  // 0 "Hel", 1 "lo", 2 " wor", 3 "ld!", 4 "<eos>" (special, EOS); logits are 6 wide (padding).
  private static final byte[] BYTES = "Hello world!<eos>".getBytes(StandardCharsets.UTF_8);
  private static final Vocabulary VOCAB =
      Vocabulary.of("toy", BYTES, new int[] {3, 2, 4, 3, 5}, new int[] {4}, new int[] {4});
  private static final ChainCompiler COMPILER = compiler();

  private static ChainCompiler compiler() {
    VocabularyRegistry registry = new VocabularyRegistry(4, 1 << 20);
    registry.register(VOCAB);
    return new ChainCompiler(Sampling.BUILTINS, registry, 8);
  }

  /** Greedy on a row whose best token is {@code best}, after {@code output}. */
  private static RowResult greedy(SamplingConfig config, int best, int width, int... output) {
    float[] logits = new float[width];
    logits[best] = 5f;
    return new RowSampler().sample(LogitsTensor.ofFloats(1, width, logits), 0,
        COMPILER.compile(config.temperature(0f)), TokenLog.of(new int[] {0, 1}, output), 7);
  }

  @Test
  void aStopStringAcrossTokensEndsTheSequenceAndSaysWhichAndWhere() {
    SamplingConfig config = new SamplingConfig().vocabulary("toy").stopStrings(List.of("xyz", "o w"));
    RowResult before = greedy(config, 1, 6, 0);
    assertThat(before.finish()).isEqualTo(RowResult.Finish.NONE);
    assertThat(before.stopString()).isNull();

    RowResult r = greedy(new SamplingConfig().vocabulary("toy")
        .stopStrings(List.of("xyz", "o w")), 2, 6, 0, 1);
    assertThat(r.tokenId()).isEqualTo(2);
    assertThat(r.finish()).isEqualTo(RowResult.Finish.STOP_STRING);
    assertThat(r.stopString()).isEqualTo("o w");
    assertThat(r.stopStringTrailingBytes()).isEqualTo(2); // "or" of " wor" follow the match
  }

  @Test
  void theVocabularysEosIdsStandInForAnEmptyEosList() {
    assertThat(greedy(new SamplingConfig().vocabulary("toy"), 4, 6).finish())
        .isEqualTo(RowResult.Finish.EOS_TOKEN);
    // Given ids win over the vocabulary's.
    assertThat(greedy(new SamplingConfig().vocabulary("toy").eosTokenIds(5), 4, 6).finish())
        .isEqualTo(RowResult.Finish.NONE);
    assertThat(greedy(new SamplingConfig(), 4, 6).finish()).isEqualTo(RowResult.Finish.NONE);
    // min_tokens holds the vocabulary's EOS back like a listed one: the best is banned, not EOS.
    RowResult held = greedy(new SamplingConfig().vocabulary("toy").minTokens(2), 4, 6);
    assertThat(held.tokenId()).isNotEqualTo(4);
  }

  @Test
  void aVocabularyWiderThanTheLogitsFailsTheRow() {
    RowResult r = greedy(new SamplingConfig().vocabulary("toy"), 1, 4);
    assertThat(r.failed()).isTrue();
    assertThat(r.error().code()).isEqualTo(ErrorCode.INVALID_PARAMS);
    assertThat(r.error().field()).isEqualTo("vocabulary");
    assertThat(r.error().getMessage()).isEqualTo("vocabulary 'toy' has 5 tokens but the logits are"
        + " only 4 wide; a vocabulary may be narrower than the logits (padding), never wider");
  }

  @Test
  void stopStringsNeedAKnownVocabulary() {
    assertThatThrownBy(() -> COMPILER.compile(new SamplingConfig().stopStrings(List.of("x"))))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMS);
          assertThat(e.field()).isEqualTo("stop_strings");
        });
    assertThatThrownBy(() -> COMPILER.compile(new SamplingConfig().vocabulary("gpt2")))
        .isInstanceOfSatisfying(TallyException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_VOCABULARY);
          assertThat(e.field()).isEqualTo("vocabulary");
          assertThat(e.getMessage()).isEqualTo("no vocabulary named 'gpt2' is registered;"
              + " registered: toy");
        });
  }
}
