package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.server.config.ServerConfig;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.micrometer.core.instrument.Counter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.internal.PlatformDependent;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 8, slow clients (docs/reliability.md): a client that keeps sending 1 MiB steps but never
 * reads a response. The server asks for the next step only once it has answered the current one
 * and its outbound side is ready, so the client's responses fill the client's HTTP/2 window, the
 * server stops reading, its inbound window fills, and the client's {@code isReady()} turns false.
 * Proven here, with bounds computed from the two windows (no timing assertion):
 *
 * <ul>
 *   <li>the client gets only a bounded number of steps in while {@code isReady()};
 *   <li>the server samples a bounded number of steps ({@code tally_steps_total}), fewer than sent;
 *   <li>Netty's direct memory (client and server share this JVM) grows by no more than the two
 *       windows and some pool slack, far below what the client would have pushed without flow
 *       control;
 *   <li>once the client reads, every response arrives exactly once, in order, without errors.
 * </ul>
 */
final class SlowReaderEndToEndTest {
  private static final int ROWS = 256;
  private static final int VOCAB = 1024; // 256 × 1024 float32: a 1 MiB step
  /** The client's receive window, fixed (this also turns off BDP window growth). */
  private static final int CLIENT_WINDOW = 1 << 20;
  /** gRPC's default on-ready threshold: a stream is not ready with this much queued. */
  private static final int ON_READY_THRESHOLD = 32 * 1024;
  /** Steps the client would send if nothing held it back. */
  private static final int CAP = 400;

  static Stream<String> transports() {
    return Stream.of("tcp", "uds");
  }

  private static SessionRequest step(int n, float[] logits) {
    SessionRequest.Builder b = SessionRequest.newBuilder().setStepId(n);
    for (int i = 0; i < ROWS; i++) {
      if (n == 0) {
        b.addAdded(Sequence.newBuilder().setId(i)
            .setParams(SamplingParams.newBuilder().setSeed(i).setTopLogprobs(20)));
      }
      b.addRowSequenceIds(i);
    }
    return b.setLogits(TestServer.f32(ROWS, VOCAB, logits)).build();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void aClientThatDoesNotReadIsHeldByFlowControlThenGetsEveryResponseInOrder(String transport)
      throws Exception {
    ServerConfig config = ServerConfig.defaults().withSamplerThreads(2);
    float[] logits = new float[ROWS * VOCAB];
    for (int i = 0; i < logits.length; i++) {
      logits[i] = (i * 37 % 101) / 10f;
    }
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try (TestServer s = TestServer.start(config)) {
      ManagedChannel channel = (transport.equals("tcp")
          ? NettyChannelBuilder.forAddress("127.0.0.1", s.server.tcpPort())
          : NettyChannelBuilder.forAddress(new DomainSocketAddress(s.socket.toString()))
              .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group))
          .usePlaintext().flowControlWindow(CLIENT_WINDOW).maxInboundMessageSize(64 << 20).build();
      try {
        // One normal session first: warms the pools and gives the size of a response.
        int responseBytes;
        try (TestServer.SessionClient warm = s.session(channel)) {
          responseBytes = warm.step(step(0, logits)).getSerializedSize();
          warm.step(step(1, logits).toBuilder().clearAdded().build());
          assertThat(warm.finish()).isEqualTo("completed");
        }
        int requestBytes = step(1, logits).getSerializedSize();
        Counter steps = s.server.metrics().registry().get("tally.steps").tag("rpc", "session")
            .counter();
        long stepsBefore = (long) steps.count();
        System.gc();
        long directBefore = PlatformDependent.usedDirectMemory();

        BlockingQueue<Object> got = new LinkedBlockingQueue<>();
        @SuppressWarnings("unchecked")
        ClientCallStreamObserver<SessionRequest>[] call = new ClientCallStreamObserver[1];
        SamplerGrpc.newStub(channel).session(
            new ClientResponseObserver<SessionRequest, SessionResponse>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<SessionRequest> r) {
                call[0] = r;
                r.disableAutoRequestWithInitial(0); // read nothing until told
              }

              @Override
              public void onNext(SessionResponse r) {
                got.add(r);
              }

              @Override
              public void onError(Throwable t) {
                got.add(t);
              }

              @Override
              public void onCompleted() {
                got.add("completed");
              }
            });

        // Send while the stream is ready; stop once neither side has moved for 3 s (settled).
        int sent = 0;
        long processed = 0;
        long lastChange = System.nanoTime();
        long giveUp = lastChange + TimeUnit.SECONDS.toNanos(120);
        while (sent < CAP && System.nanoTime() < giveUp) {
          if (call[0].isReady()) {
            call[0].onNext(step(sent++, logits));
            lastChange = System.nanoTime();
            continue;
          }
          long p = (long) steps.count() - stepsBefore;
          if (p != processed) {
            processed = p;
            lastChange = System.nanoTime();
          } else if (System.nanoTime() - lastChange > TimeUnit.SECONDS.toNanos(3)) {
            break;
          }
          Thread.sleep(20);
        }
        long directHeld = PlatformDependent.usedDirectMemory() - directBefore;
        System.out.printf("slow reader (%s): sent %d while ready, server sampled %d, held %d;"
            + " request %d B, response %d B; Netty direct +%.1f MiB%n", transport, sent,
            processed, sent - processed, requestBytes, responseBytes, directHeld / 1048576.0);

        assertThat(got).as("nothing delivered while not reading").isEmpty();
        assertThat(call[0].isReady()).as("the client is held back").isFalse();
        // The server answers at most what fits in the client's window, plus its own outbound
        // threshold, plus the step that found the stream not ready.
        long answerable = (CLIENT_WINDOW + ON_READY_THRESHOLD) / responseBytes + 2;
        assertThat(processed).as("steps the server sampled").isBetween(1L, answerable);
        // Unread, the server holds at most one inbound window of steps; the client one more
        // (its queue below the on-ready threshold, plus the message that crossed it).
        long held = config.flowControlWindow() / requestBytes + 3;
        assertThat(sent - processed).as("steps sent but not yet read by the server")
            .isBetween(1L, held);
        assertThat(sent).isLessThan(CAP);
        // Memory: what the windows let be in flight (server inbound + client inbound, ~33 MiB
        // live) counted as the pooled allocators count it — whole chunks, per event-loop arena,
        // so up to about twice the live bytes — far below the CAP × 1 MiB (400 MiB) the client
        // would have pushed without flow control. Measured: +44 to +62 MiB.
        long windows = config.flowControlWindow() + CLIENT_WINDOW;
        assertThat(directHeld).as("Netty direct memory held while stalled")
            .isLessThan(2 * windows + (32L << 20));

        // Now read: every response exactly once, in order.
        call[0].request(Integer.MAX_VALUE);
        for (int n = 0; n < sent; n++) {
          Object r = got.poll(60, TimeUnit.SECONDS);
          assertThat(r).as("response %d", n).isInstanceOf(SessionResponse.class);
          SessionResponse response = (SessionResponse) r;
          assertThat(response.getStepId()).isEqualTo(n);
          assertThat(response.hasError()).as("%s", response.getError()).isFalse();
          assertThat(response.getChoicesCount()).isEqualTo(ROWS);
        }
        call[0].onCompleted();
        assertThat(got.poll(30, TimeUnit.SECONDS)).isEqualTo("completed");
        assertThat(got).as("no response more than once").isEmpty();
        assertThat((long) steps.count() - stepsBefore).isEqualTo(sent);
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}
