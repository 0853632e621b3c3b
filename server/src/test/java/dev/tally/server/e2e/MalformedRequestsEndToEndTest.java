package dev.tally.server.e2e;

import static dev.tally.server.e2e.TestServer.f32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import dev.tally.server.testing.RawHttp2Client;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Bytes that do not parse as the request type, sent over real sockets (TCP and a Unix socket)
 * after a well-formed gRPC prefix, by grpc-java and by a raw HTTP/2 client: each is answered {@code INVALID_ARGUMENT} with reason {@code
 * MALFORMED_REQUEST}; in a {@code Session} in-band with step id 0, and the stream goes on. Nothing
 * is logged as SEVERE or with a stack trace; the WARN line comes at most once a minute.
 */
final class MalformedRequestsEndToEndTest {
  private TestServer server;
  private final List<LogRecord> julRecords = new ArrayList<>();
  private final Handler jul = new Handler() {
    @Override
    public synchronized void publish(LogRecord record) {
      julRecords.add(record);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };
  private final ListAppender<ILoggingEvent> tally = new ListAppender<>();

  @BeforeEach
  void start() throws Exception {
    java.util.logging.Logger.getLogger("").addHandler(jul);
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    tally.start();
    root.addAppender(tally);
    server = TestServer.start();
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    java.util.logging.Logger.getLogger("").removeHandler(jul);
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(tally);
  }

  /** A malformed request, and the complaint of protobuf's parser that the error must quote. */
  record Malformed(String name, byte[] bytes, String complaint) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static final String TRUNCATED = "the input ended unexpectedly in the middle of a field";

  /** The cases for a request type: {@code valid} is one of its messages; {@code badString} holds
   *  a string field of it that is not UTF-8. */
  static List<Malformed> cases(byte[] valid, byte[] badString) {
    return List.of(
        // The tensor's bytes cut short: its length runs past the end of the message.
        new Malformed("truncated", Arrays.copyOf(valid, valid.length - 3), TRUNCATED),
        // A tag as a varint of twelve bytes: varints have ten at most.
        new Malformed("over-long varint", bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0x01), "malformed varint"),
        // Wire type 7 does not exist.
        new Malformed("wrong wire type", bytes(0x0f, 0x01), "invalid wire type"),
        // An end-group tag that no start-group opened.
        new Malformed("stray end-group", bytes(0x0c), "end-group tag did not match"),
        // Field 15 (logits) says 100 bytes follow; 3 do.
        new Malformed("length past the end", bytes(0x7a, 100, 1, 2, 3), TRUNCATED),
        new Malformed("tag zero", bytes(0x00, 0x01), "invalid tag (zero)"),
        // A proto3 string that is not UTF-8.
        new Malformed("invalid UTF-8", badString, "invalid UTF-8"));
  }

  private static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }

  /** 0xC3 0x28: a lead byte, then no continuation. */
  private static final byte[] NOT_UTF8 = bytes(0xc3, 0x28);

  /** {@code SampleRequest.params[0].processors[0].name}, not UTF-8. */
  static byte[] sampleWithBadString() {
    byte[] name = concat(bytes(0x0a, NOT_UTF8.length), NOT_UTF8); // ProcessorSpec.name
    byte[] spec = concat(bytes(0xaa, 0x01, name.length), name); // SamplingParams.processors (21)
    return concat(bytes(0x0a, spec.length), spec); // SampleRequest.params (1)
  }

  /** {@code SessionRequest.unregister_shared_memory[0]} (field 7), not UTF-8. */
  static byte[] stepWithBadString() {
    return concat(bytes(0x3a, NOT_UTF8.length), NOT_UTF8);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(a);
    out.writeBytes(b);
    return out.toByteArray();
  }

  private static SampleRequest greedySample() {
    return SampleRequest.newBuilder()
        .addParams(SamplingParams.newBuilder().setTemperature(0))
        .setLogits(f32(2, 4, 0f, 1f, 3f, 2f, 5f, 1f, 0f, 2f)).build();
  }

  @Test
  void malformedSampleRequestsAreInvalidArgumentAndTheServerGoesOn() {
    byte[] valid = greedySample().toByteArray();
    int malformed = 0;
    for (ManagedChannel channel : List.of(server.tcp, server.uds)) {
      for (Malformed c : cases(valid, sampleWithBadString())) {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
            () -> RawCalls.sample(channel, c.bytes()));
        assertThat(e).as(c.name()).isNotNull();
        assertMalformed(StatusProto.fromThrowable(e), c, "tally.v1.SampleRequest");
        malformed++;
        SampleResponse ok = RawCalls.sample(channel, valid); // the channel goes on
        assertThat(ok.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(2, 0);
      }
    }
    assertNothingSevereAndOneWarnLine(malformed);
  }

  @Test
  void aMalformedGetServerInfoIsInvalidArgument() {
    // Every method is guarded, not only the tensor-carrying ones.
    byte[] bytes = bytes(0x0f, 0x01);
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
        () -> io.grpc.stub.ClientCalls
        .blockingUnaryCall(server.uds, dev.tally.api.v1.SamplerGrpc.getGetServerInfoMethod()
            .toBuilder(new RawBytes(), dev.tally.api.v1.SamplerGrpc.getGetServerInfoMethod()
                .getResponseMarshaller()).build(), io.grpc.CallOptions.DEFAULT, bytes));
    assertMalformed(StatusProto.fromThrowable(e),
        new Malformed("wrong wire type", bytes, "invalid wire type"),
        "tally.v1.GetServerInfoRequest");
    assertThat(server.blocking(server.uds).getServerInfo(GetServerInfoRequest.getDefaultInstance())
        .getVersion()).isNotEmpty();
  }

  @Test
  void aValidMessageOfAnotherTypeIsRefusedWithTheErrorOfWhatItParsesAs() {
    // A SessionResponse parses as a SampleRequest (its fields are unknown there): a request
    // without logits, refused as such.
    byte[] other = SessionResponse.newBuilder().setStepId(7).build().toByteArray();
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
        () -> RawCalls.sample(server.uds, other));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(reason(StatusProto.fromThrowable(e))).isEqualTo("INVALID_TENSOR field=logits");
  }

  @Test
  void malformedStepsAreAnsweredInBandInOrderAndTheSessionGoesOn() throws Exception {
    for (ManagedChannel channel : List.of(server.tcp, server.uds)) {
      try (RawCalls.Session session = new RawCalls.Session(channel)) {
        SessionResponse added = session.step(SessionRequest.newBuilder().setStepId(1)
            .addAdded(Sequence.newBuilder().setId(5)
                .setParams(SamplingParams.newBuilder().setTemperature(0))).build());
        assertThat(added.hasError()).as("%s", added).isFalse();
        long stepId = 2;
        byte[] valid = goodStep(0).toByteArray();
        for (Malformed c : cases(valid, stepWithBadString())) {
          SessionResponse r = session.step(c.bytes());
          assertThat(r.getStepId()).as(c.name()).isZero();
          assertThat(r.getChoicesList()).isEmpty();
          assertMalformed(r.getError(), c, "tally.v1.SessionRequest");
          // The next step is answered as usual: the malformed one changed nothing.
          SessionResponse ok = session.step(goodStep(stepId));
          assertThat(ok.getStepId()).isEqualTo(stepId);
          assertThat(ok.hasError()).as("%s", ok).isFalse();
          assertThat(ok.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(2);
          stepId++;
        }
      }
    }
    assertThat(julRecords).filteredOn(r -> r.getLevel().intValue()
        >= java.util.logging.Level.SEVERE.intValue()).isEmpty();
  }

  /**
   * The same bytes from a raw HTTP/2 client (frames written by hand, no gRPC library): each
   * {@code Sample} stream ends with {@code grpc-status} 3 and the details of MALFORMED_REQUEST, and
   * in one {@code Session} stream every malformed step is answered in-band between good ones.
   */
  @Test
  void malformedRequestsFromARawHttp2Client() throws Exception {
    byte[] valid = greedySample().toByteArray();
    try (RawHttp2Client raw = RawHttp2Client.connect(server.server.tcpPort(), true)) {
      int stream = 1;
      for (Malformed c : cases(valid, sampleWithBadString())) {
        raw.requestHeaders(stream, "/tally.v1.Sampler/Sample", false);
        raw.frame(RawHttp2Client.DATA, RawHttp2Client.END_STREAM, stream,
            RawHttp2Client.grpcMessage(c.bytes()));
        raw.flush();
        assertThat(raw.awaitEnd(stream, Duration.ofSeconds(30))).as(c.name()).isTrue();
        Map<String, String> trailers = raw.headers(stream);
        assertThat(trailers).as(c.name()).containsEntry("grpc-status", "3");
        assertMalformed(com.google.rpc.Status.parseFrom(Base64.getDecoder()
            .decode(trailers.get("grpc-status-details-bin"))), c, "tally.v1.SampleRequest");
        stream += 2;
      }
      int session = stream;
      raw.requestHeaders(session, "/tally.v1.Sampler/Session", false);
      List<SessionResponse> answers = new ArrayList<>();
      sendStep(raw, session, SessionRequest.newBuilder().setStepId(1).addAdded(Sequence
          .newBuilder().setId(5).setParams(SamplingParams.newBuilder().setTemperature(0)))
          .build().toByteArray(), answers);
      long stepId = 2;
      for (Malformed c : cases(goodStep(0).toByteArray(), stepWithBadString())) {
        SessionResponse bad = sendStep(raw, session, c.bytes(), answers);
        assertThat(bad.getStepId()).as(c.name()).isZero();
        assertMalformed(bad.getError(), c, "tally.v1.SessionRequest");
        SessionResponse ok = sendStep(raw, session, goodStep(stepId).toByteArray(), answers);
        assertThat(ok.getStepId()).isEqualTo(stepId++);
        assertThat(ok.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(2);
      }
      raw.frame(RawHttp2Client.DATA, RawHttp2Client.END_STREAM, session, new byte[0]);
      raw.flush();
      assertThat(raw.awaitEnd(session, Duration.ofSeconds(30))).isTrue();
      assertThat(raw.headers(session)).containsEntry("grpc-status", "0");
    }
  }

  /** Sends one step on a raw Session stream and returns its answer (the next gRPC message). */
  private static SessionResponse sendStep(RawHttp2Client raw, int stream, byte[] step,
      List<SessionResponse> answers) throws Exception {
    raw.frame(RawHttp2Client.DATA, 0, stream, RawHttp2Client.grpcMessage(step));
    raw.flush();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      List<SessionResponse> all = messages(raw.data(stream));
      if (all.size() > answers.size()) {
        answers.add(all.get(answers.size()));
        return answers.get(answers.size() - 1);
      }
      assertThat(System.nanoTime()).as("an answer within 30 s").isLessThan(deadline);
      Thread.sleep(1);
    }
  }

  /** The whole gRPC messages in a stream's DATA so far. */
  private static List<SessionResponse> messages(byte[] data) throws Exception {
    List<SessionResponse> out = new ArrayList<>();
    int at = 0;
    while (at + 5 <= data.length) {
      int n = java.nio.ByteBuffer.wrap(data, at + 1, 4).getInt();
      if (at + 5 + n > data.length) {
        break;
      }
      out.add(SessionResponse.parseFrom(Arrays.copyOfRange(data, at + 5, at + 5 + n)));
      at += 5 + n;
    }
    return out;
  }

  private static SessionRequest goodStep(long stepId) {
    return SessionRequest.newBuilder().setStepId(stepId).addRowSequenceIds(5)
        .setLogits(f32(1, 4, 0f, 1f, 3f, 2f)).build();
  }

  private static void assertMalformed(com.google.rpc.Status status, Malformed c, String type) {
    assertThat(status.getCode()).as(c.name()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
    assertThat(reason(status)).as(c.name()).isEqualTo("MALFORMED_REQUEST");
    assertThat(status.getMessage()).as(c.name())
        .startsWith("the request's " + c.bytes().length + " bytes do not parse as " + type + ": ")
        .contains(c.complaint());
  }

  private static String reason(com.google.rpc.Status status) {
    try {
      for (Any any : status.getDetailsList()) {
        if (any.is(ErrorInfo.class)) {
          ErrorInfo info = any.unpack(ErrorInfo.class);
          assertThat(info.getDomain()).isEqualTo("tally.dev");
          return info.getReason() + (info.containsMetadata("field")
              ? " field=" + info.getMetadataOrThrow("field") : "");
        }
      }
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("no ErrorInfo in " + status);
  }

  /** No SEVERE line from gRPC or Netty, no stack trace, and one WARN line for all of them. */
  private void assertNothingSevereAndOneWarnLine(int malformed) {
    assertThat(malformed).isGreaterThan(1);
    synchronized (jul) {
      assertThat(julRecords).filteredOn(r -> r.getLevel().intValue()
          >= java.util.logging.Level.WARNING.intValue()).isEmpty();
    }
    List<ILoggingEvent> warnings = tally.list.stream()
        .filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN)).toList();
    assertThat(warnings).hasSize(1);
    assertThat(warnings.get(0).getFormattedMessage())
        .startsWith("malformed request from ")
        .contains("to tally.v1.Sampler/Sample");
    assertThat(warnings.get(0).getThrowableProxy()).isNull();
  }

  /** Requests as raw bytes, for methods {@link RawCalls} does not cover. */
  private static final class RawBytes implements io.grpc.MethodDescriptor.Marshaller<byte[]> {
    @Override
    public java.io.InputStream stream(byte[] value) {
      return new java.io.ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(java.io.InputStream stream) {
      throw new UnsupportedOperationException("requests only");
    }
  }
}
