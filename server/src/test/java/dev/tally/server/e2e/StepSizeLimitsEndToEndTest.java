package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.api.v1.DType;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.Limits;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The default limits fit together: a session may hold as many sequences as one step may carry
 * rows, so a model server can step every live sequence at once (issue 12: 300 sequences used to be
 * refused by a 256-row limit).
 */
final class StepSizeLimitsEndToEndTest {
  private static final int VOCAB = 32_000;
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  private static int winner(int sequence) {
    return (sequence * 7919) % VOCAB;
  }

  @Test
  void aSessionSteps300SequencesInOneRequest() throws Exception {
    int sequences = 300;
    try (TestServer.SessionClient session = server.session(server.uds)) {
      SessionRequest.Builder add = SessionRequest.newBuilder().setStepId(1);
      for (int s = 0; s < sequences; s++) {
        add.addAdded(Sequence.newBuilder().setId(s)
            .setParams(SamplingParams.newBuilder().setTemperature(0f)));
      }
      assertThat(session.step(add.build()).hasError()).isFalse();
      // bfloat16 rows, in reverse sequence order: row r is sequence 299 - r.
      short[] bits = new short[sequences * VOCAB];
      SessionRequest.Builder step = SessionRequest.newBuilder().setStepId(2);
      for (int r = 0; r < sequences; r++) {
        int s = sequences - 1 - r;
        step.addRowSequenceIds(s);
        bits[r * VOCAB + winner(s)] = 0x4120; // 10.0 in bfloat16; every other logit is 0
      }
      step.setLogits(TestServer.halves(DType.DTYPE_BFLOAT16, sequences, VOCAB, bits));
      SessionResponse response = session.step(step.build());
      assertThat(response.hasError()).as("%s", response.getError()).isFalse();
      assertThat(response.getChoicesCount()).isEqualTo(sequences);
      for (int r = 0; r < sequences; r++) {
        assertThat(response.getChoices(r).getTokenId()).as("row %d", r)
            .isEqualTo(winner(sequences - 1 - r));
      }
    }
  }

  @Test
  void theDefaultsLetASessionStepAllItsSequences() {
    Limits limits = server.blocking(server.uds)
        .getServerInfo(GetServerInfoRequest.getDefaultInstance()).getLimits();
    assertThat(limits.getMaxRows()).isGreaterThanOrEqualTo(limits.getMaxSequencesPerSession());
    assertThat(limits.getMaxRows()).isGreaterThanOrEqualTo(1024); // vLLM's largest batches
  }
}
