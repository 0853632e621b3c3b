package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.GetSharedMemoryStatusRequest;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.RegisterSharedMemoryRequest;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.SharedMemoryRef;
import dev.tally.api.v1.SharedMemoryStatus;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.UnregisterSharedMemoryRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Shared-memory logits through a real server on a Unix socket: the client writes each step into a
 * {@code /dev/shm} object it registered, and the step names the bytes. On a JVM older than 22 the
 * server must say that it has no shared memory, and these tests check that instead.
 */
final class SharedMemoryEndToEndTest {
  private static final boolean SUPPORTED = Runtime.version().feature() >= 22;
  private static final int ROWS = 3;
  private static final int VOCAB = 32_000;
  private static final int SLOT = ROWS * VOCAB * 2; // bf16
  private static final int STEPS = 24;

  private TestServer server;
  private final List<Path> objects = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    server = TestServer.start();
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    for (Path p : objects) {
      Files.deleteIfExists(p);
    }
  }

  /** A fresh /dev/shm object of {@code size} bytes, mapped for writing; its key is "/" + name. */
  private Shm create(long size) throws IOException {
    String name = "tally-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    Path path = Path.of("/dev/shm", name);
    objects.add(path);
    FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.READ, StandardOpenOption.WRITE);
    channel.truncate(size);
    channel.write(ByteBuffer.allocate(1), size - 1); // the size, whatever truncate did
    MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_WRITE, 0, size);
    map.order(ByteOrder.LITTLE_ENDIAN);
    return new Shm("/" + name, channel, map);
  }

  private record Shm(String key, FileChannel channel, MappedByteBuffer map) {
    void write(long offset, byte[] bytes) {
      map.put((int) offset, bytes);
    }
  }

  /** bf16 logits of step {@code step}: a different random landscape per step and row. */
  private static byte[] logits(int step) {
    SplittableRandom random = new SplittableRandom(1000 + step);
    ByteBuffer b = ByteBuffer.allocate(SLOT).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < ROWS * VOCAB; i++) {
      float f = (float) (3 * random.nextGaussian());
      b.putShort((short) (Float.floatToRawIntBits(f) >>> 16));
    }
    return b.array();
  }

  private static Logits.Builder shape() {
    return Logits.newBuilder().setDtype(DType.DTYPE_BFLOAT16).setRows(ROWS).setVocabSize(VOCAB);
  }

  private static Logits ref(String region, long offset, long size) {
    return shape().setSharedMemory(SharedMemoryRef.newBuilder().setRegion(region)
        .setOffset(offset).setByteSize(size)).build();
  }

  private static SessionRequest addSequences() {
    SessionRequest.Builder b = SessionRequest.newBuilder().setStepId(0);
    for (int s = 0; s < ROWS; s++) {
      b.addAdded(Sequence.newBuilder().setId(s + 1).setParams(SamplingParams.newBuilder()
          .setTemperature(0.8f).setTopK(40).setTopP(0.95f).setMinP(0.05f)
          .setRepetitionPenalty(1.1f).setSeed(7 + s).setTopLogprobs(5)));
    }
    return b.build();
  }

  private static SessionRequest.Builder step(int step) {
    SessionRequest.Builder b = SessionRequest.newBuilder().setStepId(step);
    for (int s = 0; s < ROWS; s++) {
      b.addRowSequenceIds(s + 1);
    }
    return b;
  }

  private static RegisterSharedMemoryRequest register(String name, Shm shm, long size) {
    return RegisterSharedMemoryRequest.newBuilder().setName(name).setKey(shm.key())
        .setByteSize(size).build();
  }

  @Test
  void sessionOverSharedMemoryGivesTheInlineTokensWhileSlotsAreReused() throws Exception {
    if (!SUPPORTED) {
      assertUnsupported();
      return;
    }
    List<List<TokenChoice>> inline = new ArrayList<>();
    try (TestServer.SessionClient session = server.session(server.uds)) {
      assertThat(session.step(addSequences()).hasError()).isFalse();
      for (int t = 1; t <= STEPS; t++) {
        SessionResponse r = session.step(step(t).setLogits(shape()
            .setData(ByteString.copyFrom(logits(t)))).build());
        assertThat(r.hasError()).as("inline step %d: %s", t, r.getError()).isFalse();
        inline.add(r.getChoicesList());
      }
    }
    Shm shm = create(2L * SLOT);
    byte[] garbage = new byte[SLOT];
    java.util.Arrays.fill(garbage, (byte) 0x7f); // bf16 0x7f7f: huge logits everywhere
    try (TestServer.SessionClient session = server.session(server.uds)) {
      SessionResponse added = session.step(addSequences().toBuilder()
          .addRegisterSharedMemory(register("slots", shm, 2L * SLOT)).build());
      assertThat(added.hasError()).as("%s", added.getError()).isFalse();
      for (int t = 1; t <= STEPS; t++) {
        long offset = (t % 2) * (long) SLOT;
        shm.write(offset, logits(t));
        SessionResponse r = session.step(step(t).setLogits(ref("slots", offset, SLOT)).build());
        // The response released the slot: overwrite it at once, as an eager client would.
        shm.write(offset, garbage);
        assertThat(r.hasError()).as("shared-memory step %d: %s", t, r.getError()).isFalse();
        assertThat(r.getChoicesList()).as("step %d", t).isEqualTo(inline.get(t - 1));
      }
      assertThat(serverRegions()).isEqualTo(1);
    }
    awaitServerRegions(0); // the stream ended: its region is gone
  }

  @Test
  void badReferencesAreAnsweredInBandAndTheSessionGoesOn() throws Exception {
    if (!SUPPORTED) {
      return; // assertUnsupported covers the older JVM
    }
    Shm shm = create(2L * SLOT);
    shm.write(0, logits(1));
    try (TestServer.SessionClient session = server.session(server.uds)) {
      assertThat(session.step(addSequences().toBuilder()
          .addRegisterSharedMemory(register("slots", shm, 2L * SLOT)).build()).hasError())
          .isFalse();
      expectStepError(session.step(step(1).setLogits(ref("nope", 0, SLOT)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY", "logits.shared_memory.region");
      expectStepError(session.step(step(2).setLogits(ref("slots", SLOT + 2, SLOT)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY", "logits.shared_memory.offset");
      expectStepError(session.step(step(3).setLogits(ref("slots", 0, SLOT - 2)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY",
          "logits.shared_memory.byte_size");
      expectStepError(session.step(step(4).setLogits(ref("slots", -1L, SLOT)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY", "logits.shared_memory.offset");
      expectStepError(session.step(step(5).addUnregisterSharedMemory("other").build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY", "unregister_shared_memory[0]");
      expectStepError(session.step(SessionRequest.newBuilder().setStepId(6)
              .addRegisterSharedMemory(RegisterSharedMemoryRequest.newBuilder().setName("x")
                  .setKey("/../etc/passwd").setByteSize(8)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY", "register_shared_memory[0].key");
      expectStepError(session.step(SessionRequest.newBuilder().setStepId(7)
              .addRegisterSharedMemory(register("slots", shm, SLOT)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY", "register_shared_memory[0].name");
      expectStepError(session.step(SessionRequest.newBuilder().setStepId(8)
              .addRegisterSharedMemory(register("big", shm, 4L * SLOT)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY",
          "register_shared_memory[0].byte_size");
      expectStepError(session.step(SessionRequest.newBuilder().setStepId(9)
              .addRegisterSharedMemory(RegisterSharedMemoryRequest.newBuilder().setName("gone")
                  .setKey("/tally-test-no-such-object").setByteSize(8)).build()),
          Status.Code.FAILED_PRECONDITION, "SHARED_MEMORY_UNAVAILABLE",
          "register_shared_memory[0].key");
      // A registration in a step that fails is undone: the name is free again.
      expectStepError(session.step(SessionRequest.newBuilder().setStepId(10)
              .addRegisterSharedMemory(register("again", shm, SLOT))
              .addRowSequenceIds(99).addRowSequenceIds(1).addRowSequenceIds(2)
              .setLogits(ref("again", 0, SLOT)).build()),
          Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE", "row_sequence_ids[0]");
      assertThat(serverRegions()).isEqualTo(1);
      SessionResponse ok = session.step(step(11).setLogits(ref("slots", 0, SLOT)).build());
      assertThat(ok.hasError()).as("%s", ok.getError()).isFalse();
      assertThat(ok.getChoicesList()).hasSize(ROWS)
          .allSatisfy(c -> assertThat(c.getTokenId()).isBetween(0, VOCAB - 1));
    }
  }

  @Test
  void aRegionTruncatedUnderTheServerFailsItsStepAndAFreshRegionWorks() throws Exception {
    if (!SUPPORTED) {
      return;
    }
    Shm shm = create(2L * SLOT);
    try (TestServer.SessionClient session = server.session(server.uds)) {
      assertThat(session.step(addSequences().toBuilder()
          .addRegisterSharedMemory(register("slots", shm, 2L * SLOT)).build()).hasError())
          .isFalse();
      for (int t = 1; t <= 3; t++) {
        shm.write(0, logits(t));
        assertThat(session.step(step(t).setLogits(ref("slots", 0, SLOT)).build()).hasError())
            .isFalse();
      }
      shm.channel().truncate(4096); // the client shrinks the object under the server
      SessionResponse lost = session.step(step(4).setLogits(ref("slots", 0, SLOT)).build());
      expectStepError(lost, Status.Code.DATA_LOSS, "REGION_UNAVAILABLE",
          "logits.shared_memory.region");
      assertThat(lost.getError().getMessage()).contains("now 4096 bytes");
      awaitServerRegions(0); // dropped
      expectStepError(session.step(step(5).setLogits(ref("slots", 0, SLOT)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY", "logits.shared_memory.region");
      Shm fresh = create(SLOT);
      fresh.write(0, logits(6));
      SessionResponse ok = session.step(step(6).addRegisterSharedMemory(register("fresh", fresh,
          SLOT)).setLogits(ref("fresh", 0, SLOT)).build());
      assertThat(ok.hasError()).as("%s", ok.getError()).isFalse();
      assertThat(ok.getChoicesCount()).isEqualTo(ROWS);
    }
  }

  @Test
  void unaryRegionsServeSampleAndDieWithTheirConnection() throws Exception {
    if (!SUPPORTED) {
      return;
    }
    Shm shm = create(SLOT);
    shm.write(0, logits(1));
    ManagedChannel own = NettyChannelBuilder.forAddress(
            new io.netty.channel.unix.DomainSocketAddress(server.socket.toString()))
        .channelType(io.netty.channel.epoll.EpollDomainSocketChannel.class)
        .eventLoopGroup(new io.netty.channel.MultiThreadIoEventLoopGroup(1,
            io.netty.channel.epoll.EpollIoHandler.newFactory()))
        .usePlaintext().build();
    try {
      var stub = server.blocking(own);
      assertThat(stub.registerSharedMemory(register("step", shm, SLOT)).getRegion().getByteSize())
          .isEqualTo(SLOT);
      SharedMemoryStatus status = stub.getSharedMemoryStatus(
          GetSharedMemoryStatusRequest.getDefaultInstance());
      assertThat(status.getSupported()).isTrue();
      assertThat(status.getRegionsList()).extracting(r -> r.getName()).containsExactly("step");
      SampleRequest request = SampleRequest.newBuilder().addParams(SamplingParams.newBuilder()
          .setSeed(3).setTopLogprobs(2)).setLogits(ref("step", 0, SLOT)).build();
      SampleResponse viaShm = stub.sample(request);
      SampleResponse inline = server.blocking(server.uds).sample(request.toBuilder().setLogits(
          shape().setData(ByteString.copyFrom(logits(1)))).build());
      assertThat(viaShm).isEqualTo(inline);
      // Another connection does not see this connection's regions.
      assertThatThrownBy(() -> server.blocking(server.uds).sample(request))
          .satisfies(e -> expectUnary(e, Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY",
              "logits.shared_memory.region"));
      assertThatThrownBy(() -> stub.unregisterSharedMemory(UnregisterSharedMemoryRequest
          .newBuilder().setName("other").build()))
          .satisfies(e -> expectUnary(e, Status.Code.INVALID_ARGUMENT, "INVALID_SHARED_MEMORY",
              "name"));
      assertThat(serverRegions()).isEqualTo(1);
    } finally {
      own.shutdownNow().awaitTermination(5, TimeUnit.SECONDS); // the client goes away
    }
    awaitServerRegions(0);
  }

  private void assertUnsupported() {
    SharedMemoryStatus status = server.blocking(server.uds)
        .getServerInfo(GetServerInfoRequest.getDefaultInstance()).getSharedMemory();
    assertThat(status.getSupported()).isFalse();
    assertThat(status.getUnsupportedReason()).contains("version 22");
  }

  private int serverRegions() {
    return server.blocking(server.tcp).getServerInfo(GetServerInfoRequest.getDefaultInstance())
        .getSharedMemory().getServerRegions();
  }

  private void awaitServerRegions(int expected) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (serverRegions() != expected && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(serverRegions()).isEqualTo(expected);
    assertThat(server.blocking(server.tcp).getServerInfo(GetServerInfoRequest.getDefaultInstance())
        .getSharedMemory().getServerBytesMapped()).isEqualTo(expected == 0 ? 0 : SLOT * 2L);
  }

  private static void expectStepError(SessionResponse r, Status.Code code, String reason,
      String field) throws InvalidProtocolBufferException {
    assertThat(r.hasError()).as("step %d answered with an error", r.getStepId()).isTrue();
    assertThat(r.getChoicesCount()).isZero();
    assertThat(r.getError().getCode()).as("%s", r.getError().getMessage())
        .isEqualTo(code.value());
    ErrorInfo info = r.getError().getDetails(0).unpack(ErrorInfo.class);
    assertThat(info.getReason()).as("%s", r.getError().getMessage()).isEqualTo(reason);
    assertThat(info.getMetadataMap().get("field")).as("%s", r.getError().getMessage())
        .isEqualTo(field);
  }

  private static void expectUnary(Throwable e, Status.Code code, String reason, String field) {
    assertThat(e).isInstanceOf(StatusRuntimeException.class);
    com.google.rpc.Status status = StatusProto.fromThrowable(e);
    assertThat(status).isNotNull();
    assertThat(status.getCode()).as("%s", status.getMessage()).isEqualTo(code.value());
    try {
      ErrorInfo info = status.getDetails(0).unpack(ErrorInfo.class);
      assertThat(info.getReason()).isEqualTo(reason);
      assertThat(info.getMetadataMap().get("field")).isEqualTo(field);
    } catch (InvalidProtocolBufferException x) {
      throw new AssertionError(x);
    }
  }
}
