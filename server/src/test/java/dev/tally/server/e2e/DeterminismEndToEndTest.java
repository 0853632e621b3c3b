package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.server.config.ServerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The same seeds give bit-identical tokens whatever the pool size, and after a restart: a fresh
 * server that is handed the sequences with their output so far continues exactly as the first.
 */
final class DeterminismEndToEndTest {
  private static final int VOCAB = 2000;
  private static final int SEQUENCES = 6;
  private static final int STEPS = 12;

  private static final SamplingParams[] PARAMS = {
    SamplingParams.newBuilder().setSeed(1).setTemperature(0.9f).setTopK(50).build(),
    SamplingParams.newBuilder().setSeed(2).setTopP(0.9f).setRepetitionPenalty(1.3f).build(),
    SamplingParams.newBuilder().setSeed(3).setMinP(0.05f).setTemperature(1.2f).build(),
    SamplingParams.newBuilder().setSeed(4).setTypicalP(0.8f).setPresencePenalty(0.7f).build(),
    SamplingParams.newBuilder().setSeed(5).setTemperature(0.7f).setTopNSigma(1.5f).build(),
    SamplingParams.newBuilder().setSeed(6).build(),
  };

  /** Row i at step s: the logits depend only on (sequence, step), never on the batch. */
  private static float[] logits(int sequence, int step) {
    Random r = new Random(sequence * 1000L + step);
    float[] x = new float[VOCAB];
    for (int i = 0; i < VOCAB; i++) {
      x[i] = (float) (2.5 * r.nextGaussian());
    }
    return x;
  }

  /**
   * Runs steps [from, to) of every sequence through one session, rows in a shuffled order, and
   * returns the token of each (sequence, step); earlier outputs are handed over when added.
   */
  private static int[][] run(ServerConfig config, int[][] earlier, int from, int to, long shuffle)
      throws Exception {
    int[][] tokens = new int[SEQUENCES][STEPS];
    try (TestServer server = TestServer.start(config);
        TestServer.SessionClient session = server.session(server.uds)) {
      Random order = new Random(shuffle);
      for (int step = from; step < to; step++) {
        SessionRequest.Builder request = SessionRequest.newBuilder().setStepId(step);
        if (step == from) {
          for (int id = 0; id < SEQUENCES; id++) {
            Sequence.Builder s = Sequence.newBuilder().setId(id).setParams(PARAMS[id])
                .addPromptTokenIds(id).addPromptTokenIds(id + 7);
            for (int k = 0; k < from; k++) {
              s.addOutputTokenIds(earlier[id][k]);
            }
            request.addAdded(s);
          }
        }
        List<Integer> rows = new ArrayList<>();
        for (int id = 0; id < SEQUENCES; id++) {
          rows.add(id);
        }
        java.util.Collections.shuffle(rows, order);
        float[] all = new float[SEQUENCES * VOCAB];
        for (int i = 0; i < rows.size(); i++) {
          request.addRowSequenceIds(rows.get(i));
          System.arraycopy(logits(rows.get(i), step), 0, all, i * VOCAB, VOCAB);
        }
        request.setLogits(TestServer.f32(SEQUENCES, VOCAB, all));
        SessionResponse response = session.step(request.build());
        assertThat(response.hasError()).isFalse();
        for (int i = 0; i < rows.size(); i++) {
          tokens[rows.get(i)][step] = response.getChoices(i).getTokenId();
        }
      }
    }
    return tokens;
  }

  @Test
  void sameTokensWhateverThePoolSizeAndRowOrder() throws Exception {
    int[][] one = run(ServerConfig.defaults().withSamplerThreads(1), null, 0, STEPS, 1);
    int[][] four = run(ServerConfig.defaults().withSamplerThreads(4), null, 0, STEPS, 2);
    assertThat(four).isDeepEqualTo(one);
  }

  @Test
  void aRestartedServerContinuesExactlyWhereTheFirstStopped() throws Exception {
    int[][] uninterrupted = run(ServerConfig.defaults(), null, 0, STEPS, 3);
    int[][] firstHalf = run(ServerConfig.defaults(), null, 0, STEPS / 2, 4);
    int[][] secondHalf = run(ServerConfig.defaults(), firstHalf, STEPS / 2, STEPS, 5);
    for (int id = 0; id < SEQUENCES; id++) {
      for (int step = 0; step < STEPS; step++) {
        int token = step < STEPS / 2 ? firstHalf[id][step] : secondHalf[id][step];
        assertThat(token).as("sequence %d, step %d", id, step).isEqualTo(uninterrupted[id][step]);
      }
    }
  }
}
