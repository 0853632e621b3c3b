package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.tally.api.v1.LogprobsMode;
import dev.tally.api.v1.ProcessorSpec;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.TokenHistory;
import dev.tally.api.v1.TokenLogprob;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * #20 through a real server: a sequence whose prefix is the whole history applies, in {@code
 * Sample} and in a {@code Session} whose history grows step by step (the two cases,
 * pinned).
 */
final class SequenceRulesEndToEndTest {
  private static final float[] LOGITS = {-0.241f, -0.553f, 0.765f, 0.972f, -0.646f, -0.231f,
      0.043f, 0.639f};
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  private static Value sequences(int[]... seqs) {
    ListValue.Builder outer = ListValue.newBuilder();
    for (int[] s : seqs) {
      ListValue.Builder inner = ListValue.newBuilder();
      for (int id : s) {
        inner.addValues(Value.newBuilder().setNumberValue(id));
      }
      outer.addValues(Value.newBuilder().setListValue(inner));
    }
    return Value.newBuilder().setListValue(outer).build();
  }

  private static SamplingParams params(ProcessorSpec stage) {
    return SamplingParams.newBuilder().setSeed(1).setTopLogprobs(8)
        .setTopLogprobsMode(LogprobsMode.LOGPROBS_MODE_PROCESSED).addProcessors(stage).build();
  }

  private static ProcessorSpec sequenceBias() {
    return ProcessorSpec.newBuilder().setName("sequence_bias").setParams(Struct.newBuilder()
        .putFields("sequences", sequences(new int[] {0, 3}))
        .putFields("bias", Value.newBuilder().setNumberValue(2.0).build())).build();
  }

  private static ProcessorSpec badWords() {
    return ProcessorSpec.newBuilder().setName("bad_words").setParams(Struct.newBuilder()
        .putFields("sequences", sequences(new int[] {2, 6, 7}, new int[] {2, 6, 6}))).build();
  }

  private static Map<Integer, Float> processed(TokenChoice c) {
    assertThat(c.hasError()).as("%s", c.getError()).isFalse();
    Map<Integer, Float> out = new HashMap<>();
    for (TokenLogprob t : c.getTopLogprobsList()) {
      out.put(t.getTokenId(), t.getLogprob());
    }
    return out;
  }

  /** log-softmax of {@link #LOGITS} with {@code bias} added to token {@code id}. */
  private static double logprob(int id, int biased, double bias) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < LOGITS.length; i++) {
      max = Math.max(max, LOGITS[i] + (i == biased ? bias : 0));
    }
    double sum = 0;
    for (int i = 0; i < LOGITS.length; i++) {
      sum += Math.exp(LOGITS[i] + (i == biased ? bias : 0) - max);
    }
    return LOGITS[id] + (id == biased ? bias : 0) - max - Math.log(sum);
  }

  private static TokenChoice sample(SamplingParams p, int[] prompt, int[] output) {
    TokenHistory.Builder h = TokenHistory.newBuilder();
    for (int id : prompt) {
      h.addPromptTokenIds(id);
    }
    for (int id : output) {
      h.addOutputTokenIds(id);
    }
    return server.blocking(server.uds).sample(SampleRequest.newBuilder().addParams(p)
        .addHistories(h).setLogits(TestServer.f32(1, LOGITS.length, LOGITS)).build())
        .getChoices(0);
  }

  @Test
  void sequenceBiasWhosePrefixIsTheWholeHistoryAppliesInSample() {
    Map<Integer, Float> p = processed(sample(params(sequenceBias()), new int[0], new int[] {0}));
    assertThat((double) p.get(3)).isCloseTo(-0.33, within(0.01)).isCloseTo(logprob(3, 3, 2.0),
        within(1e-5));
    // One id short of the prefix: nothing applies.
    Map<Integer, Float> none = processed(sample(params(sequenceBias()), new int[0], new int[0]));
    assertThat((double) none.get(3)).isCloseTo(logprob(3, -1, 0), within(1e-5));
  }

  @Test
  void badWordsWhosePrefixIsTheWholeHistoryBanInSample() {
    Map<Integer, Float> p = processed(sample(params(badWords()), new int[] {2}, new int[] {6}));
    assertThat(p.keySet()).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5);
    assertThat(processed(sample(params(badWords()), new int[0], new int[] {6})).keySet())
        .hasSize(8);
  }

  @Test
  void aSessionMeetsTheRulesAsItsHistoryGrows() throws Exception {
    float[] sixWins = LOGITS.clone();
    sixWins[6] = 40f; // drawn with certainty
    float[] zeroWins = LOGITS.clone();
    zeroWins[0] = 40f;
    try (TestServer.SessionClient s = server.session(server.uds)) {
      SessionResponse added = s.step(SessionRequest.newBuilder().setStepId(0)
          .addAdded(Sequence.newBuilder().setId(1).setParams(params(badWords()))
              .addPromptTokenIds(2))
          .addAdded(Sequence.newBuilder().setId(2).setParams(params(sequenceBias()))).build());
      assertThat(added.hasError()).isFalse();
      // Step 1: histories [2] and []; neither rule applies yet.
      SessionResponse first = s.step(SessionRequest.newBuilder().setStepId(1)
          .addRowSequenceIds(1).addRowSequenceIds(2)
          .setLogits(TestServer.f32(2, 8, concat(sixWins, zeroWins))).build());
      assertThat(first.getChoices(0).getTokenId()).isEqualTo(6);
      assertThat(first.getChoices(1).getTokenId()).isEqualTo(0);
      assertThat(processed(first.getChoices(0)).keySet()).contains(6, 7);
      // Step 2: histories [2, 6] and [0]: the prefixes are the whole histories.
      SessionResponse second = s.step(SessionRequest.newBuilder().setStepId(2)
          .addRowSequenceIds(1).addRowSequenceIds(2)
          .setLogits(TestServer.f32(2, 8, concat(LOGITS, LOGITS))).build());
      assertThat(processed(second.getChoices(0)).keySet())
          .containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5);
      assertThat((double) processed(second.getChoices(1)).get(3))
          .isCloseTo(logprob(3, 3, 2.0), within(1e-5));
    }
  }

  private static float[] concat(float[] a, float[] b) {
    float[] out = new float[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

}
