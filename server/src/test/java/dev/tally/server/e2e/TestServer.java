package dev.tally.server.e2e;

import com.google.protobuf.ByteString;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.TallyServer;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A real Tally server for end-to-end tests: a TCP listener on an ephemeral loopback port and a
 * Unix socket in a temporary folder, with a client channel to each.
 */
final class TestServer implements AutoCloseable {
  final TallyServer server;
  final Path socket;
  final ManagedChannel tcp;
  final ManagedChannel uds;
  private final Path dir;
  private final EventLoopGroup clientGroup;

  private TestServer(ServerConfig config, Path dir) {
    this.dir = dir;
    this.socket = dir.resolve("tally.sock");
    this.server = Servers.create(config.withListeners(List.of(
        ListenAddress.parse("127.0.0.1:0"), ListenAddress.parse("unix:" + socket)))).start();
    this.clientGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    int max = config.maxMessageBytes();
    this.tcp = NettyChannelBuilder.forAddress("127.0.0.1", server.tcpPort()).usePlaintext()
        .maxInboundMessageSize(max).build();
    this.uds = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollDomainSocketChannel.class).eventLoopGroup(clientGroup).usePlaintext()
        .maxInboundMessageSize(max).build();
  }

  static TestServer start() throws IOException {
    return start(ServerConfig.defaults());
  }

  static TestServer start(ServerConfig config) throws IOException {
    return new TestServer(config, Files.createTempDirectory("tally-test-"));
  }

  SamplerGrpc.SamplerBlockingStub blocking(ManagedChannel channel) {
    return SamplerGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** A Session stream with a blocking step-by-step API. */
  SessionClient session(ManagedChannel channel) {
    return new SessionClient(SamplerGrpc.newStub(channel));
  }

  @Override
  public void close() throws Exception {
    tcp.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    uds.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    server.stop();
    Files.deleteIfExists(socket);
    Files.deleteIfExists(dir);
  }

  /** float32 logits, little-endian, row-major. */
  static Logits f32(int rows, int vocab, float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return Logits.newBuilder().setDtype(DType.DTYPE_FLOAT32).setRows(rows).setVocabSize(vocab)
        .setData(ByteString.copyFrom(b)).build();
  }

  /** 16-bit logits from raw bit patterns. */
  static Logits halves(DType dtype, int rows, int vocab, short... bits) {
    ByteBuffer b = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    b.asShortBuffer().put(bits);
    return Logits.newBuilder().setDtype(dtype).setRows(rows).setVocabSize(vocab)
        .setData(ByteString.copyFrom(b)).build();
  }

  /**
   * What the server sends on a Session stream, in order: each response, then the end ("completed"
   * or the Throwable); {@link #poll} takes the next.
   */
  static final class Replies implements StreamObserver<SessionResponse> {
    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();

    @Override
    public void onNext(SessionResponse r) {
      queue.add(r);
    }

    @Override
    public void onError(Throwable t) {
      queue.add(t);
    }

    @Override
    public void onCompleted() {
      queue.add("completed");
    }

    /** The next reply within 30 s, or null. */
    Object poll() throws InterruptedException {
      return queue.poll(30, TimeUnit.SECONDS);
    }
  }

  /** One Session stream; {@link #step} sends a request and waits for its response. */
  static final class SessionClient implements AutoCloseable {
    private final Replies replies = new Replies();
    private final StreamObserver<SessionRequest> requests;

    SessionClient(SamplerGrpc.SamplerStub stub) {
      this.requests = stub.session(replies);
    }

    SessionResponse step(SessionRequest request) throws InterruptedException {
      requests.onNext(request);
      Object reply = replies.poll();
      if (!(reply instanceof SessionResponse)) {
        throw new AssertionError("expected a SessionResponse, got " + reply);
      }
      return (SessionResponse) reply;
    }

    /** Sends a step without waiting for its answer. */
    void send(SessionRequest request) {
      requests.onNext(request);
    }

    /** Half-closes and returns how the server ended the stream ("completed" or a Throwable). */
    Object finish() throws InterruptedException {
      requests.onCompleted();
      return replies.poll();
    }

    /** Sends a step and cancels at once, without waiting for its answer (a client gone mid-step). */
    void cancelAfterSending(SessionRequest request) {
      requests.onNext(request);
      cancel();
    }

    /** Cancels the stream from the client side. */
    void cancel() {
      requests.onError(new RuntimeException("client gave up"));
    }

    @Override
    public void close() {
      try {
        requests.onCompleted();
      } catch (IllegalStateException alreadyClosed) {
        // the stream is already over
      }
    }
  }
}
