package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real CLI in a child JVM, stopped with SIGTERM: it exits 0, removes its socket file and ends
 * an open session with UNAVAILABLE instead of leaving it hanging.
 */
final class ShutdownEndToEndTest {
  @TempDir Path dir;

  private Process process;
  private Path log;
  private EventLoopGroup group;
  private ManagedChannel channel;

  @BeforeEach
  void startServer() throws Exception {
    Path socket = dir.resolve("t.sock");
    log = dir.resolve("server.log");
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        "dev.tally.server.cli.TallyCommand",
        "serve", "--listen", "unix:" + socket, "--listen", "127.0.0.1:0",
        "--shutdown-grace", "5", "--threads", "2"));
    process = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!Files.exists(socket)) {
      if (!process.isAlive()) {
        throw new AssertionError("the server exited with " + process.exitValue()
            + " before listening:\n" + output());
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no socket after 20 s:\n" + output());
      }
      Thread.sleep(20);
    }
    group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext()
        .build();
  }

  @AfterEach
  void cleanUp() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
    if (process != null && process.isAlive()) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  private String output() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no output: " + e + ")";
    }
  }

  @Test
  void sigtermDrainsSessionsRemovesTheSocketAndExitsZero() throws Exception {
    Path socket = dir.resolve("t.sock");
    try {
      SampleResponse sampled = SamplerGrpc.newBlockingStub(channel)
          .withDeadlineAfter(20, TimeUnit.SECONDS)
          .sample(SampleRequest.newBuilder()
              .addParams(SamplingParams.newBuilder().setTemperature(0f))
              .setLogits(TestServer.f32(1, 4, 0f, 3f, 1f, 2f)).build());
      assertThat(sampled.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(1);

      BlockingQueue<Object> replies = new LinkedBlockingQueue<>();
      StreamObserver<SessionRequest> requests = SamplerGrpc.newStub(channel)
          .session(new StreamObserver<>() {
            @Override
            public void onNext(SessionResponse r) {
              replies.add(r);
            }

            @Override
            public void onError(Throwable t) {
              replies.add(t);
            }

            @Override
            public void onCompleted() {
              replies.add("completed");
            }
          });
      requests.onNext(SessionRequest.newBuilder().setStepId(1)
          .addAdded(Sequence.newBuilder().setId(5)
              .setParams(SamplingParams.newBuilder().setTemperature(0f)))
          .addRowSequenceIds(5).setLogits(TestServer.f32(1, 3, 2f, 0f, 1f)).build());
      Object first = replies.poll(20, TimeUnit.SECONDS);
      assertThat(first).isInstanceOf(SessionResponse.class);
      SessionResponse step = (SessionResponse) first;
      assertThat(step.hasError()).isFalse();
      assertThat(step.getStepId()).isEqualTo(1);
      assertThat(step.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(0);

      process.destroy(); // SIGTERM

      assertThat(process.waitFor(15, TimeUnit.SECONDS)).as("exited within 15 s").isTrue();
      assertThat(process.exitValue()).as("exit status").isEqualTo(0);
      assertThat(socket).as("socket file").doesNotExist();

      // The session had no step in flight: the server ends it with its own UNAVAILABLE.
      Object end = replies.poll(5, TimeUnit.SECONDS);
      assertThat(end).as("how the open session ended").isInstanceOf(StatusRuntimeException.class);
      Status status = ((StatusRuntimeException) end).getStatus();
      assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(status.getDescription()).isEqualTo("the server is shutting down");
      assertThat(replies).as("nothing after the end of the stream").isEmpty();
      assertThat(output()).contains("shutting down", "stopped");
    } catch (Exception | AssertionError e) {
      System.err.println("---- server output ----\n" + output() + "---- end ----");
      throw e;
    }
  }
}
