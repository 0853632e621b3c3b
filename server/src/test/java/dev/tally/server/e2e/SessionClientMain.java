package dev.tally.server.e2e;

import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;

/**
 * A model server's decode loop in its own JVM, for {@link ClientKillEndToEndTest}: opens one
 * Session to {@code args[0]} ({@code unix:PATH} or {@code HOST:PORT}), registers four sequences,
 * runs {@code args[1]} steps, and with {@code args[2] = midstep} sends one more large step without
 * waiting for its answer. It then prints {@code ready <steps>} and waits to be killed: the test
 * must see the session open on the server before the SIGKILL, or it would prove nothing.
 */
final class SessionClientMain {
  static final int SEQUENCES = 4;

  private SessionClientMain() {}

  public static void main(String[] args) throws Exception {
    String target = args[0];
    int steps = Integer.parseInt(args[1]);
    boolean midStep = args.length > 2 && args[2].equals("midstep");
    ManagedChannel channel = target.startsWith("unix:")
        ? NettyChannelBuilder.forAddress(new DomainSocketAddress(target.substring(5)))
            .channelType(EpollDomainSocketChannel.class)
            .eventLoopGroup(new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory()))
            .usePlaintext().build()
        : NettyChannelBuilder.forTarget(target).usePlaintext().build();
    TestServer.SessionClient session = new TestServer.SessionClient(SamplerGrpc.newStub(channel));
    for (int n = 0; n < steps; n++) {
      SessionRequest.Builder b = SessionRequest.newBuilder().setStepId(n);
      float[] v = new float[SEQUENCES * 8];
      for (int i = 0; i < SEQUENCES; i++) {
        if (n == 0) {
          b.addAdded(Sequence.newBuilder().setId(i)
              .setParams(SamplingParams.newBuilder().setSeed(i).setTemperature(0.8f)));
        }
        b.addRowSequenceIds(i);
        v[i * 8 + (n + i) % 8] = 3f;
      }
      SessionResponse r = session.step(b.setLogits(TestServer.f32(SEQUENCES, 8, v)).build());
      if (r.hasError() || r.getStepId() != n || r.getChoicesCount() != SEQUENCES) {
        throw new AssertionError("step " + n + ": " + r);
      }
    }
    if (midStep) {
      // 60 more sequences and 64 rows × 32,768 float32 (8 MiB): still being received or sampled
      // when the kill comes.
      SessionRequest.Builder b = SessionRequest.newBuilder().setStepId(steps);
      for (int i = 0; i < 64; i++) {
        if (i >= SEQUENCES) {
          b.addAdded(Sequence.newBuilder().setId(i)
              .setParams(SamplingParams.newBuilder().setSeed(i).setTopLogprobs(20)));
        }
        b.addRowSequenceIds(i);
      }
      session.send(b.setLogits(TestServer.f32(64, 32768, new float[64 * 32768])).build());
    }
    System.out.println("ready " + steps);
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
