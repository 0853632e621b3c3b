package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tally.api.v1.DType;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.TokenHistory;
import dev.tally.api.v1.TokenLogprob;
import io.grpc.ManagedChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The sampling path through a real server, over TCP and a Unix socket, with the Java stub. */
final class SamplingEndToEndTest {
  private static final int VOCAB = 1000;
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static Stream<Arguments> transports() {
    return Stream.of(Arguments.of("tcp", server.tcp), Arguments.of("uds", server.uds));
  }

  private static float[] randomLogits(int rows, long seed) {
    Random r = new Random(seed);
    float[] v = new float[rows * VOCAB];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (3 * r.nextGaussian());
    }
    return v;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void greedyReturnsTheArgmaxOfEveryRow(String name, ManagedChannel channel) {
    float[] logits = randomLogits(4, 1);
    SampleResponse response = server.blocking(channel).sample(SampleRequest.newBuilder()
        .addParams(SamplingParams.newBuilder().setTemperature(0))
        .setLogits(TestServer.f32(4, VOCAB, logits))
        .build());

    assertThat(response.getChoicesCount()).isEqualTo(4);
    for (int row = 0; row < 4; row++) {
      int argmax = 0;
      for (int v = 1; v < VOCAB; v++) {
        if (logits[row * VOCAB + v] > logits[row * VOCAB + argmax]) {
          argmax = v;
        }
      }
      TokenChoice c = response.getChoices(row);
      assertThat(c.getTokenId()).isEqualTo(argmax);
      assertThat(c.getRank()).isEqualTo(1);
      assertThat(c.getProcessedLogprob()).isEqualTo(0f);
      assertThat(c.hasError()).isFalse();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void topLogprobsMatchADirectLogSoftmax(String name, ManagedChannel channel) {
    float[] logits = randomLogits(1, 2);
    SampleResponse response = server.blocking(channel).sample(SampleRequest.newBuilder()
        .addParams(SamplingParams.newBuilder().setSeed(5).setTopLogprobs(20)
            .setTemperature(0.8f).setTopK(40))
        .setLogits(TestServer.f32(1, VOCAB, logits))
        .build());

    double max = Double.NEGATIVE_INFINITY;
    for (float x : logits) {
      max = Math.max(max, x);
    }
    double sum = 0;
    for (float x : logits) {
      sum += Math.exp(x - max);
    }
    double lse = max + Math.log(sum);
    Integer[] order = new Integer[VOCAB];
    for (int i = 0; i < VOCAB; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));

    TokenChoice c = response.getChoices(0);
    assertThat(c.getTopLogprobsCount()).isEqualTo(20);
    for (int i = 0; i < 20; i++) {
      TokenLogprob t = c.getTopLogprobs(i);
      assertThat(t.getTokenId()).isEqualTo(order[i]);
      assertThat((double) t.getLogprob()).isCloseTo(logits[order[i]] - lse, within(1e-5));
    }
    assertThat((double) c.getLogprob()).isCloseTo(logits[c.getTokenId()] - lse, within(1e-5));
    int rank = 0;
    for (float x : logits) {
      if (x >= logits[c.getTokenId()]) {
        rank++;
      }
    }
    assertThat(c.getRank()).isEqualTo(rank);
    assertThat(c.getSeed()).isEqualTo(5);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void halfPrecisionRowsGiveTheTokensOfTheFloat32RowsTheyEncode(String name,
      ManagedChannel channel) {
    int rows = 3;
    Random r = new Random(3);
    short[] f16 = new short[rows * VOCAB];
    short[] bf16 = new short[rows * VOCAB];
    float[] fromF16 = new float[rows * VOCAB];
    float[] fromBf16 = new float[rows * VOCAB];
    for (int i = 0; i < f16.length; i++) {
      // Random bit patterns of normal numbers in (-16, 16), and the float32 value each encodes,
      // worked out from the format's definition (not with the server's decoder).
      float x = (float) (3 * r.nextGaussian());
      bf16[i] = (short) (Float.floatToIntBits(x) >>> 16);
      fromBf16[i] = Float.intBitsToFloat(bf16[i] << 16);
      int sign = r.nextBoolean() ? 1 : 0;
      int exponent = 1 + r.nextInt(18); // biased: 2^-14 .. 2^3
      int mantissa = r.nextInt(1024);
      f16[i] = (short) (sign << 15 | exponent << 10 | mantissa);
      fromF16[i] = (float) ((sign == 1 ? -1 : 1) * Math.scalb(1 + mantissa / 1024.0, exponent - 15));
    }
    SamplingParams params = SamplingParams.newBuilder().setSeed(11).setTemperature(0.9f)
        .setTopP(0.95f).setTopLogprobs(3).build();
    assertSameChoices(channel, params, TestServer.halves(DType.DTYPE_FLOAT16, rows, VOCAB, f16),
        TestServer.f32(rows, VOCAB, fromF16));
    assertSameChoices(channel, params, TestServer.halves(DType.DTYPE_BFLOAT16, rows, VOCAB, bf16),
        TestServer.f32(rows, VOCAB, fromBf16));
  }

  private static void assertSameChoices(ManagedChannel channel, SamplingParams params, Logits half,
      Logits full) {
    SampleResponse a = server.blocking(channel).sample(
        SampleRequest.newBuilder().addParams(params).setLogits(half).build());
    SampleResponse b = server.blocking(channel).sample(
        SampleRequest.newBuilder().addParams(params).setLogits(full).build());
    assertThat(a).isEqualTo(b);
  }

  /**
   * Two seeded sequences through a Session, with a third joining and leaving and the row order
   * changing, give exactly the tokens that stateless Sample calls give with the same seeds and
   * histories: the draw depends on (seed, output length), not on the batch.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void sessionAndSampleAgreeWhateverTheBatch(String name, ManagedChannel channel)
      throws Exception {
    Map<Long, SamplingParams> params = Map.of(
        1L, SamplingParams.newBuilder().setSeed(101).setTemperature(0.9f).setTopK(50)
            .setRepetitionPenalty(1.2f).build(),
        2L, SamplingParams.newBuilder().setSeed(202).setTopP(0.9f).setMinP(0.02f)
            .setPresencePenalty(0.5f).setFrequencyPenalty(0.3f).build(),
        3L, SamplingParams.newBuilder().setSeed(303).setTemperature(1.3f).build());
    Map<Long, List<Integer>> prompts = Map.of(1L, List.of(5, 6, 7), 2L, List.of(8, 9),
        3L, List.of(10));
    Map<Long, List<Integer>> outputs = new HashMap<>();
    // Which sequences are rows, in which order, at each step; 3 joins at step 2, leaves after 4.
    long[][] schedule = {{1, 2}, {2, 1}, {3, 1, 2}, {1, 3, 2}, {2, 3}, {2, 1}, {1, 2}};
    Random r = new Random(7);
    try (TestServer.SessionClient session = server.session(channel)) {
      for (int step = 0; step < schedule.length; step++) {
        long[] rows = schedule[step];
        SessionRequest.Builder request = SessionRequest.newBuilder().setStepId(100 + step);
        for (long id : rows) {
          if (!outputs.containsKey(id)) {
            outputs.put(id, new ArrayList<>());
            request.addAdded(Sequence.newBuilder().setId(id).setParams(params.get(id))
                .addAllPromptTokenIds(prompts.get(id)));
          }
          request.addRowSequenceIds(id);
        }
        if (step == 5) {
          request.addRemoved(3);
        }
        float[] logits = new float[rows.length * VOCAB];
        for (int i = 0; i < logits.length; i++) {
          logits[i] = (float) (2 * r.nextGaussian());
        }
        request.setLogits(TestServer.f32(rows.length, VOCAB, logits));
        SessionResponse response = session.step(request.build());
        assertThat(response.getStepId()).isEqualTo(100 + step);
        assertThat(response.hasError()).isFalse();
        assertThat(response.getChoicesCount()).isEqualTo(rows.length);

        // The same rows, one stateless Sample each, with the histories the session holds.
        for (int i = 0; i < rows.length; i++) {
          long id = rows[i];
          float[] row = java.util.Arrays.copyOfRange(logits, i * VOCAB, (i + 1) * VOCAB);
          SampleResponse alone = server.blocking(channel).sample(SampleRequest.newBuilder()
              .addParams(params.get(id))
              .addHistories(TokenHistory.newBuilder().addAllPromptTokenIds(prompts.get(id))
                  .addAllOutputTokenIds(outputs.get(id)))
              .setLogits(TestServer.f32(1, VOCAB, row))
              .build());
          // Everything but the cumulative logprob, which only the session keeps.
          assertThat(response.getChoices(i).toBuilder().clearCumulativeLogprob().build())
              .as("step %d, sequence %d", step, id)
              .isEqualTo(alone.getChoices(0).toBuilder().clearCumulativeLogprob().build());
          outputs.get(id).add(response.getChoices(i).getTokenId());
        }
      }
      assertThat(session.finish()).isEqualTo("completed");
    }
    assertThat(outputs.get(1L)).hasSize(6);
    assertThat(outputs.get(3L)).hasSize(3);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void stopAndEosTokensEndTheSequence(String name, ManagedChannel channel) {
    float[] logits = new float[3 * VOCAB];
    java.util.Arrays.fill(logits, -5f);
    logits[7] = 9f; // row 0: argmax 7 = EOS
    logits[VOCAB + 8] = 9f; // row 1: argmax 8 = stop
    logits[2 * VOCAB + 9] = 9f; // row 2: neither
    SampleResponse response = server.blocking(channel).sample(SampleRequest.newBuilder()
        .addParams(SamplingParams.newBuilder().setTemperature(0).addEosTokenIds(7)
            .addStopTokenIds(8))
        .setLogits(TestServer.f32(3, VOCAB, logits))
        .build());
    assertThat(response.getChoices(0).getFinishReason())
        .isEqualTo(dev.tally.api.v1.FinishReason.FINISH_REASON_EOS_TOKEN);
    assertThat(response.getChoices(1).getFinishReason())
        .isEqualTo(dev.tally.api.v1.FinishReason.FINISH_REASON_STOP_TOKEN);
    assertThat(response.getChoices(2).getFinishReason())
        .isEqualTo(dev.tally.api.v1.FinishReason.FINISH_REASON_NONE);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void minTokensHoldsBackEosUntilEnoughOutput(String name, ManagedChannel channel) {
    float[] logits = new float[VOCAB];
    java.util.Arrays.fill(logits, -5f);
    logits[7] = 9f; // EOS is the argmax
    logits[3] = 4f;
    SamplingParams params = SamplingParams.newBuilder().setTemperature(0).addEosTokenIds(7)
        .setMinTokens(2).build();
    int early = server.blocking(channel).sample(SampleRequest.newBuilder().addParams(params)
        .addHistories(TokenHistory.newBuilder().addOutputTokenIds(1))
        .setLogits(TestServer.f32(1, VOCAB, logits)).build()).getChoices(0).getTokenId();
    int late = server.blocking(channel).sample(SampleRequest.newBuilder().addParams(params)
        .addHistories(TokenHistory.newBuilder().addOutputTokenIds(1).addOutputTokenIds(2))
        .setLogits(TestServer.f32(1, VOCAB, logits)).build()).getChoices(0).getTokenId();
    assertThat(early).isEqualTo(3);
    assertThat(late).isEqualTo(7);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void anUnseededRowGetsARandomSeedThatReproducesIt(String name, ManagedChannel channel) {
    float[] logits = randomLogits(1, 9);
    Logits tensor = TestServer.f32(1, VOCAB, logits);
    TokenChoice first = server.blocking(channel).sample(SampleRequest.newBuilder()
        .addParams(SamplingParams.getDefaultInstance()).setLogits(tensor).build()).getChoices(0);
    TokenChoice replay = server.blocking(channel).sample(SampleRequest.newBuilder()
        .addParams(SamplingParams.newBuilder().setSeed(first.getSeed())).setLogits(tensor).build())
        .getChoices(0);
    assertThat(replay).isEqualTo(first);
  }

  /** Label scoring answers the same in Sample and in Session, and never draws. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void labelScoringInSampleAndSession(String name, ManagedChannel channel) throws Exception {
    float[] logits = randomLogits(1, 12);
    logits[10] = 4f;
    logits[20] = 5f;
    logits[30] = 3f;
    SamplingParams params = SamplingParams.newBuilder().addLabelTokenIds(30)
        .addLabelTokenIds(10).addLabelTokenIds(20).setTemperature(1.5f).build();
    TokenChoice unary = server.blocking(channel).sample(SampleRequest.newBuilder()
        .addParams(params).setLogits(TestServer.f32(1, VOCAB, logits)).build()).getChoices(0);

    double lse = Math.log(Math.exp(3 / 1.5) + Math.exp(4 / 1.5) + Math.exp(5 / 1.5));
    assertThat(unary.getTokenId()).isEqualTo(20);
    assertThat(unary.getLabelLogprobsList()).extracting(TokenLogprob::getTokenId)
        .containsExactly(30, 10, 20);
    assertThat((double) unary.getLabelLogprobs(0).getLogprob()).isCloseTo(3 / 1.5 - lse, within(1e-5));
    assertThat((double) unary.getLabelLogprobs(2).getLogprob()).isCloseTo(5 / 1.5 - lse, within(1e-5));
    assertThat(unary.getProcessedLogprob()).isEqualTo(unary.getLabelLogprobs(2).getLogprob());

    try (TestServer.SessionClient session = server.session(channel)) {
      SessionResponse r = session.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(Sequence.newBuilder().setId(9).setParams(params))
          .addRowSequenceIds(9).setLogits(TestServer.f32(1, VOCAB, logits)).build());
      assertThat(r.getChoices(0).toBuilder().clearSeed().build())
          .isEqualTo(unary.toBuilder().clearSeed().build());
    }
  }
}
