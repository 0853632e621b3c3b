package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Steps large enough that the server parses them into reused arrays (over 1 MiB): every step must
 * be sampled from its own logits, never from a later step's bytes written into a reused array,
 * with several sessions sharing the pool at once.
 */
final class LargeStepsEndToEndTest {
  private static final int ROWS = 2;
  private static final int VOCAB = 200_000; // 1.6 MB of float32 per step
  private static final int STEPS = 25;

  /** The winning token of (session, step, row): a different place every time. */
  private static int winner(int session, int step, int row) {
    return (session * 7919 + step * 104_729 + row * 15_485_863) % VOCAB;
  }

  @Test
  void everyStepIsSampledFromItsOwnLogitsWhileArraysAreReused() throws Exception {
    try (TestServer server = TestServer.start()) {
      ExecutorService clients = Executors.newFixedThreadPool(3);
      List<Future<?>> done = new ArrayList<>();
      for (int s = 0; s < 3; s++) {
        int session = s;
        done.add(clients.submit(() -> {
          runSession(server, session);
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
      clients.shutdown();
    }
  }

  private static void runSession(TestServer server, int session) throws Exception {
    try (TestServer.SessionClient client =
        server.session(session % 2 == 0 ? server.uds : server.tcp)) {
      for (int step = 0; step < STEPS; step++) {
        SessionRequest.Builder request = SessionRequest.newBuilder().setStepId(step);
        if (step == 0) {
          for (int row = 0; row < ROWS; row++) {
            request.addAdded(Sequence.newBuilder().setId(row)
                .setParams(SamplingParams.newBuilder().setTemperature(0f)));
          }
        }
        float[] logits = new float[ROWS * VOCAB];
        for (int row = 0; row < ROWS; row++) {
          request.addRowSequenceIds(row);
          logits[row * VOCAB + winner(session, step, row)] = 10f;
        }
        request.setLogits(TestServer.f32(ROWS, VOCAB, logits));
        SessionResponse response = client.step(request.build());
        assertThat(response.hasError()).as("session %d step %d", session, step).isFalse();
        for (int row = 0; row < ROWS; row++) {
          assertThat(response.getChoices(row).getTokenId())
              .as("session %d step %d row %d", session, step, row)
              .isEqualTo(winner(session, step, row));
        }
      }
    }
  }
}
