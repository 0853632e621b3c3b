package dev.tally.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.api.v1.SessionRequest;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.exec.SamplerPool;
import dev.tally.server.metrics.TallyMetrics;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@code max_sessions} holds when many sessions open at the same moment. */
final class SessionLimitTest {
  private static final int MAX = 3;
  private static final int OPENERS = 12;

  @Test
  void concurrentOpensNeverExceedTheLimit() throws Exception {
    ServerConfig config = ServerConfig.defaults().withSamplerThreads(1).withMaxSessions(MAX);
    ProcessorRegistry registry =
        ProcessorRegistry.fromServiceLoader(SessionLimitTest.class.getClassLoader());
    ExecutorService threads = Executors.newFixedThreadPool(OPENERS);
    try (SamplerPool pool = new SamplerPool(1)) {
      // Many rounds: a check-then-add race shows up as a round with more than MAX opened.
      for (int round = 0; round < 10; round++) {
        SessionTracker tracker = new SessionTracker();
        SamplerService service = new SamplerService(config, registry, pool, tracker,
            new ServerInfoSource(), TallyMetrics.noop(), new dev.tally.server.shm.SharedMemory(
                dev.tally.server.shm.SharedMemoryConfig.defaults()),
            dev.tally.core.vocab.VocabularyRegistry.none());
        CyclicBarrier start = new CyclicBarrier(OPENERS);
        List<Future<SessionCallAtomicityTest.Out>> opens = new ArrayList<>();
        List<StreamObserver<SessionRequest>> streams = java.util.Collections.synchronizedList(
            new ArrayList<>());
        for (int i = 0; i < OPENERS; i++) {
          opens.add(threads.submit(() -> {
            SessionCallAtomicityTest.Out out = new SessionCallAtomicityTest.Out();
            start.await(10, TimeUnit.SECONDS);
            streams.add(service.session(out));
            return out;
          }));
        }
        AtomicInteger refused = new AtomicInteger();
        for (Future<SessionCallAtomicityTest.Out> f : opens) {
          SessionCallAtomicityTest.Out out = f.get(10, TimeUnit.SECONDS);
          if (out.error != null) {
            assertThat(Status.fromThrowable(out.error).getCode())
                .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(Status.fromThrowable(out.error).getDescription())
                .isEqualTo("3 sessions are open; this server's limit (max_sessions) is 3");
            refused.incrementAndGet();
          }
        }
        assertThat(tracker.size()).as("round %d", round).isEqualTo(MAX);
        assertThat(refused.get()).as("round %d", round).isEqualTo(OPENERS - MAX);
        // Closing frees the slots: as many can open again.
        for (StreamObserver<SessionRequest> s : streams) {
          s.onCompleted();
        }
        assertThat(tracker.size()).isZero();
        List<StreamObserver<SessionRequest>> again = new ArrayList<>();
        for (int i = 0; i < MAX; i++) {
          SessionCallAtomicityTest.Out out = new SessionCallAtomicityTest.Out();
          again.add(service.session(out));
          assertThat(out.error).isNull();
        }
        again.forEach(StreamObserver::onCompleted);
      }
    } finally {
      threads.shutdownNow();
    }
  }
}
