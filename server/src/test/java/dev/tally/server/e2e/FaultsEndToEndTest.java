package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8 faults against real server processes (child JVMs) and a real in-JVM server: {@code kill
 * -9} then restart and resume gives the uninterrupted tokens; SIGTERM under load answers every
 * in-flight step in order then ends the streams, exit 0; a client that cancels mid-step or stops
 * reading is handled (state freed; held by flow control, then every response in order).
 */
final class FaultsEndToEndTest {
  private static final int VOCAB = 1500;
  private static final int SEQUENCES = 5;
  private static final int STEPS = 16;
  private static final SamplingParams[] PARAMS = {
    SamplingParams.newBuilder().setSeed(11).setTemperature(0.9f).setTopK(50).build(),
    SamplingParams.newBuilder().setSeed(12).setTopP(0.9f).setRepetitionPenalty(1.3f).build(),
    SamplingParams.newBuilder().setSeed(13).setMinP(0.05f).setFrequencyPenalty(0.5f).build(),
    SamplingParams.newBuilder().setSeed(14).setTypicalP(0.8f).setPresencePenalty(0.7f).build(),
    SamplingParams.newBuilder().setSeed(15).build(),
  };

  @TempDir Path dir;
  private final List<Process> processes = new ArrayList<>();
  private final List<EventLoopGroup> groups = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  @AfterEach
  void cleanUp() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    for (EventLoopGroup g : groups) {
      g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
    for (Process p : processes) {
      if (p.isAlive()) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /** Starts {@code tally serve} in a child JVM on a Unix socket; returns a channel to it. */
  private ManagedChannel serve(String name, Process[] started) throws Exception {
    Path socket = dir.resolve(name + ".sock");
    Path log = dir.resolve(name + ".log");
    Process p = new ProcessBuilder(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "dev.tally.server.cli.TallyCommand",
        "serve", "--listen", "unix:" + socket, "--shutdown-grace", "5", "--threads", "2"))
        .redirectErrorStream(true).redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    processes.add(p);
    started[0] = p;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!Files.exists(socket)) {
      assertThat(p.isAlive()).as("server alive: %s", Files.exists(log) ? Files.readString(log) : "")
          .isTrue();
      assertThat(System.nanoTime()).as("socket within 20 s").isLessThan(deadline);
      Thread.sleep(20);
    }
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    groups.add(group);
    ManagedChannel c = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
    channels.add(c);
    return c;
  }

  private static float[] logits(int sequence, int step) {
    Random r = new Random(sequence * 7919L + step);
    float[] x = new float[VOCAB];
    for (int i = 0; i < VOCAB; i++) {
      x[i] = (float) (2.5 * r.nextGaussian());
    }
    return x;
  }

  /** Steps [from, to) of every sequence on {@code session}; outputs before {@code from} given. */
  private static void run(TestServer.SessionClient session, int[][] tokens, int from, int to)
      throws Exception {
    for (int step = from; step < to; step++) {
      SessionRequest.Builder request = SessionRequest.newBuilder().setStepId(step);
      if (step == from) {
        for (int id = 0; id < SEQUENCES; id++) {
          Sequence.Builder s = Sequence.newBuilder().setId(id).setParams(PARAMS[id])
              .addPromptTokenIds(id + 1).addPromptTokenIds(id + 9);
          for (int k = 0; k < from; k++) {
            s.addOutputTokenIds(tokens[id][k]);
          }
          request.addAdded(s);
        }
      }
      float[] all = new float[SEQUENCES * VOCAB];
      for (int i = 0; i < SEQUENCES; i++) {
        int id = (i + step) % SEQUENCES; // rotate the row order
        request.addRowSequenceIds(id);
        System.arraycopy(logits(id, step), 0, all, i * VOCAB, VOCAB);
      }
      SessionResponse r = session.step(request.setLogits(TestServer.f32(SEQUENCES, VOCAB, all))
          .build());
      assertThat(r.hasError()).as("%s", r.getError()).isFalse();
      for (int i = 0; i < SEQUENCES; i++) {
        tokens[(i + step) % SEQUENCES][step] = r.getChoices(i).getTokenId();
      }
    }
  }

  @Test
  void afterKillNineAndRestartReAddingWithHistoryGivesTheUninterruptedTokens() throws Exception {
    int[][] uninterrupted = new int[SEQUENCES][STEPS];
    try (TestServer server = TestServer.start();
        TestServer.SessionClient s = server.session(server.uds)) {
      run(s, uninterrupted, 0, STEPS);
    }
    Process[] first = new Process[1];
    ManagedChannel c1 = serve("first", first);
    int[][] resumed = new int[SEQUENCES][STEPS];
    TestServer.SessionClient s1 = new TestServer.SessionClient(SamplerGrpc.newStub(c1));
    run(s1, resumed, 0, STEPS / 2);
    new ProcessBuilder("kill", "-9", Long.toString(first[0].pid())).start().waitFor();
    assertThat(first[0].waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(first[0].exitValue()).isEqualTo(137); // SIGKILL, no shutdown hook ran

    Process[] second = new Process[1];
    ManagedChannel c2 = serve("second", second);
    try (TestServer.SessionClient s2 = new TestServer.SessionClient(SamplerGrpc.newStub(c2))) {
      run(s2, resumed, STEPS / 2, STEPS);
    }
    assertThat(resumed).isDeepEqualTo(uninterrupted);
  }

  @Test
  void sigtermUnderLoadAnswersInOrderThenEndsTheStreamsAndExitsZero() throws Exception {
    Process[] server = new Process[1];
    ManagedChannel channel = serve("load", server);
    int sessions = 8;
    List<Thread> threads = new ArrayList<>();
    List<String> problems = new CopyOnWriteArrayList<>();
    List<Long> answered = new CopyOnWriteArrayList<>();
    AtomicBoolean termSent = new AtomicBoolean();
    java.util.concurrent.atomic.AtomicLongArray progress =
        new java.util.concurrent.atomic.AtomicLongArray(sessions);
    for (int k = 0; k < sessions; k++) {
      int session = k;
      Thread t = new Thread(() -> {
        BlockingQueue<Object> replies = new LinkedBlockingQueue<>();
        StreamObserver<SessionRequest> requests = SamplerGrpc.newStub(channel).session(
            new StreamObserver<>() {
              @Override
              public void onNext(SessionResponse r) {
                replies.add(r);
              }

              @Override
              public void onError(Throwable e) {
                replies.add(e);
              }

              @Override
              public void onCompleted() {
                replies.add("completed");
              }
            });
        long steps = 0;
        try {
          for (long n = 1; ; n++) {
            SessionRequest.Builder b = SessionRequest.newBuilder().setStepId(n)
                .addRowSequenceIds(session).setLogits(TestServer.f32(1, VOCAB,
                    logits(session, (int) n)));
            if (n == 1) {
              b.addAdded(Sequence.newBuilder().setId(session).setParams(PARAMS[session % 5]));
            }
            try {
              requests.onNext(b.build());
            } catch (IllegalStateException | StatusRuntimeException closed) {
              break;
            }
            Object reply = replies.poll(20, TimeUnit.SECONDS);
            if (reply instanceof SessionResponse r) {
              if (r.getStepId() != n || r.hasError() || r.getChoicesCount() != 1) {
                problems.add("session " + session + " step " + n + ": " + r);
              }
              steps++;
              progress.incrementAndGet(session);
            } else if (reply instanceof StatusRuntimeException e
                && e.getStatus().getCode() == Status.Code.UNAVAILABLE && termSent.get()) {
              break; // ended by the shutdown: the step sent after the drain is not answered
            } else {
              problems.add("session " + session + " step " + n + ": " + reply);
              break;
            }
          }
          Object more = replies.poll(200, TimeUnit.MILLISECONDS);
          if (more != null) {
            problems.add("session " + session + ": something after the end: " + more);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        answered.add(steps);
      }, "sigterm-load-" + k);
      threads.add(t);
      t.start();
    }
    // Under load: every session has been answered at least 10 steps.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (int k = 0; k < sessions; k++) {
      while (progress.get(k) < 10 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
    }
    long before = 0;
    for (int k = 0; k < sessions; k++) {
      before += progress.get(k);
    }
    assertThat(before).as("steps answered before SIGTERM").isGreaterThanOrEqualTo(10L * sessions);
    termSent.set(true);
    server[0].destroy(); // SIGTERM
    assertThat(server[0].waitFor(15, TimeUnit.SECONDS)).as("exited in the grace period").isTrue();
    assertThat(server[0].exitValue()).isEqualTo(0);
    for (Thread t : threads) {
      t.join(20_000);
    }
    assertThat(problems).isEmpty();
    assertThat(answered).hasSize(sessions).allMatch(n -> n >= 10);
  }

  @Test
  void cancelsMidStepAndASlowReaderAreHandled() throws Exception {
    try (TestServer server = TestServer.start()) {
      // 16 sessions each send a big step and cancel right away, mid-step.
      for (int k = 0; k < 16; k++) {
        TestServer.SessionClient s = server.session(k % 2 == 0 ? server.uds : server.tcp);
        float[] big = new float[64 * 4096];
        SessionRequest.Builder b = SessionRequest.newBuilder().setStepId(1);
        for (int i = 0; i < 64; i++) {
          b.addAdded(Sequence.newBuilder().setId(i).setParams(PARAMS[i % 5]))
              .addRowSequenceIds(i);
        }
        s.cancelAfterSending(b.setLogits(TestServer.f32(64, 4096, big)).build());
      }
      assertActiveSessionsReturnToZero(server);

      // A slow reader: requests 60 steps with large responses, reads nothing for a while.
      BlockingQueue<SessionResponse> got = new LinkedBlockingQueue<>();
      ClientCallStreamObserver<SessionRequest>[] call = new ClientCallStreamObserver[1];
      StreamObserver<SessionRequest> requests = SamplerGrpc.newStub(server.uds).session(
          new ClientResponseObserver<SessionRequest, SessionResponse>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<SessionRequest> r) {
              call[0] = r;
              r.disableAutoRequestWithInitial(0);
            }

            @Override
            public void onNext(SessionResponse r) {
              got.add(r);
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
          });
      int steps = 60;
      float[] v = new float[256 * 64];
      for (int i = 0; i < v.length; i++) {
        v[i] = (i * 37 % 101) / 10f;
      }
      for (int n = 0; n < steps; n++) {
        SessionRequest.Builder b = SessionRequest.newBuilder().setStepId(n);
        for (int i = 0; i < 256; i++) {
          if (n == 0) {
            b.addAdded(Sequence.newBuilder().setId(i)
                .setParams(SamplingParams.newBuilder().setSeed(i).setTopLogprobs(20)));
          }
          b.addRowSequenceIds(i);
        }
        requests.onNext(b.setLogits(TestServer.f32(256, 64, v)).build());
      }
      Thread.sleep(1000);
      assertThat(got).as("nothing delivered while not reading").isEmpty();
      call[0].request(steps);
      for (int n = 0; n < steps; n++) {
        SessionResponse r = got.poll(20, TimeUnit.SECONDS);
        assertThat(r).as("response %d", n).isNotNull();
        assertThat(r.getStepId()).isEqualTo(n);
        assertThat(r.hasError()).isFalse();
        assertThat(r.getChoicesCount()).isEqualTo(256);
      }
      requests.onCompleted();
      assertActiveSessionsReturnToZero(server);
    }
  }

  private static void assertActiveSessionsReturnToZero(TestServer server) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int active;
    do {
      active = server.blocking(server.tcp).getServerInfo(GetServerInfoRequest.getDefaultInstance())
          .getActiveSessions();
      if (active != 0) {
        Thread.sleep(50);
      }
    } while (active != 0 && System.nanoTime() < deadline);
    assertThat(active).as("active sessions").isZero();
  }
}
