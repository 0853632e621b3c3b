package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.rpc.ErrorInfo;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.Limits;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.metrics.MetricsEndpoint;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Issue 7: the limits answered with RESOURCE_EXHAUSTED and reported, and the /metrics scrape. */
final class OperationsEndToEndTest {
  private static final SamplingParams GREEDY = SamplingParams.newBuilder().setTemperature(0)
      .build();

  private static SessionRequest add(long step, long id) {
    return SessionRequest.newBuilder().setStepId(step)
        .addAdded(Sequence.newBuilder().setId(id).setParams(GREEDY)).build();
  }

  private static void assertLimit(Throwable t, String field, String message) {
    assertThat(t).isInstanceOf(StatusRuntimeException.class);
    StatusRuntimeException e = (StatusRuntimeException) t;
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(e.getStatus().getDescription()).isEqualTo(message);
    com.google.rpc.Status status = StatusProto.fromThrowable(e);
    assertThat(status).isNotNull();
    ErrorInfo info = status.getDetailsList().stream().filter(a -> a.is(ErrorInfo.class))
        .map(a -> {
          try {
            return a.unpack(ErrorInfo.class);
          } catch (Exception x) {
            throw new AssertionError(x);
          }
        }).findFirst().orElseThrow();
    assertThat(info.getReason()).isEqualTo("LIMIT_EXCEEDED");
    assertThat(info.getMetadataMap()).containsEntry("field", field);
  }

  @Test
  void limitsAreEnforcedWithResourceExhaustedAndReported() throws Exception {
    ServerConfig config = ServerConfig.defaults().withSamplerThreads(2)
        .withLimits(4, 64, 4096, 3, 2).withMaxSessions(1)
        .withStepDeadline(Duration.ofMillis(1500));
    try (TestServer s = TestServer.start(config)) {
      Limits limits = s.blocking(s.tcp).getServerInfo(GetServerInfoRequest.getDefaultInstance())
          .getLimits();
      assertThat(limits).isEqualTo(Limits.newBuilder().setMaxRows(4).setMaxVocabSize(64)
          .setMaxMessageBytes(4096).setMaxTopLogprobs(3).setMaxSequencesPerSession(2)
          .setMaxSessions(1).setStepDeadlineMillis(1500)
          .setMaxSharedMemoryRegions(64).setMaxSharedMemoryBytes(64L << 30)
          .setMaxStepElements(ServerConfig.DEFAULT_MAX_STEP_ELEMENTS)
          .setMaxVocabularies(64).setMaxVocabularyBytes(512L << 20)
          .setMaxForkChildrenPerStep(4).setMaxDraftTokens(64).build());

      try (TestServer.SessionClient first = s.session(s.tcp)) {
        assertThat(first.step(add(0, 1)).hasError()).isFalse();
        // sessions: the second one is refused while the first is open
        TestServer.SessionClient second = s.session(s.uds);
        Object end = second.finish();
        assertLimit((Throwable) end, "max_sessions",
            "1 sessions are open; this server's limit (max_sessions) is 1");
        // sequences per session
        assertThat(first.step(add(1, 2)).hasError()).isFalse();
        SessionResponse over = first.step(add(2, 3));
        assertThat(over.getError().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED.value());
        assertThat(over.getError().getMessage()).contains("limit", "2");
        // rows per step and vocabulary
        SessionResponse rows = first.step(SessionRequest.newBuilder().setStepId(3)
            .setLogits(TestServer.f32(5, 2, new float[10])).build());
        assertThat(rows.getError().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED.value());
        assertThat(rows.getError().getMessage())
            .isEqualTo("logits.rows is 5; this server's limit (max_rows) is 4");
        SessionResponse vocab = first.step(SessionRequest.newBuilder().setStepId(4)
            .setLogits(TestServer.f32(1, 65, new float[65])).build());
        assertThat(vocab.getError().getMessage())
            .isEqualTo("logits.vocab_size is 65; this server's limit (max_vocab_size) is 64");
      }
      // top_logprobs
      assertThatThrownBy(() -> s.blocking(s.tcp).sample(SampleRequest.newBuilder()
          .addParams(GREEDY.toBuilder().setTopLogprobs(4))
          .setLogits(TestServer.f32(1, 4, 0, 1, 2, 3)).build()))
          .satisfies(t -> assertThat(((StatusRuntimeException) t).getStatus().getCode())
              .isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
          .hasMessageContaining("top_logprobs");
      // message size: refused by Tally, with its ErrorInfo
      assertThatThrownBy(() -> s.blocking(s.tcp).sample(SampleRequest.newBuilder()
          .addParams(GREEDY).setLogits(TestServer.f32(1, 4, 0, 1, 2, 3).toBuilder()
              .setData(ByteString.copyFrom(new byte[8192]))).build()))
          .satisfies(t -> assertLimit(t, "max_message_bytes",
              "the message is 8211 bytes; this server's limit (max_message_bytes) is 4096"));
    }
  }

  @Test
  void aMessageOverTheLimitEndsItsCallWithTallysErrorAndFreesTheSession() throws Exception {
    ServerConfig config = ServerConfig.defaults().withSamplerThreads(1)
        .withLimits(4, 64, 4096, 3, 2).withMaxSessions(1);
    try (TestServer s = TestServer.start(config)) {
      java.util.concurrent.BlockingQueue<Object> replies =
          new java.util.concurrent.LinkedBlockingQueue<>();
      io.grpc.stub.StreamObserver<SessionRequest> requests = dev.tally.api.v1.SamplerGrpc
          .newStub(s.uds).session(new io.grpc.stub.StreamObserver<>() {
            @Override public void onNext(SessionResponse r) {
              replies.add(r);
            }

            @Override public void onError(Throwable t) {
              replies.add(t);
            }

            @Override public void onCompleted() {
              replies.add("completed");
            }
          });
      SessionRequest big = add(0, 1).toBuilder().setLogits(TestServer.f32(1, 4, 0, 1, 2, 3)
          .toBuilder().setData(ByteString.copyFrom(new byte[5000]))).build();
      requests.onNext(big);
      assertLimit((Throwable) replies.poll(30, java.util.concurrent.TimeUnit.SECONDS),
          "max_message_bytes", "the message is " + big.getSerializedSize()
              + " bytes; this server's limit (max_message_bytes) is 4096");
      // max_sessions is 1: the refused session gave its slot back
      try (TestServer.SessionClient next = s.session(s.tcp)) {
        assertThat(next.step(add(0, 1)).hasError()).isFalse();
      }
      // Far over the limit (past the transport's margin), gRPC cuts the message off itself.
      int transport = 4096 + (1 << 20);
      assertThatThrownBy(() -> s.blocking(s.tcp).sample(SampleRequest.newBuilder()
          .addParams(GREEDY).setLogits(TestServer.f32(1, 4, 0, 1, 2, 3).toBuilder()
              .setData(ByteString.copyFrom(new byte[transport]))).build()))
          .satisfies(t -> assertThat(((StatusRuntimeException) t).getStatus().getCode())
              .isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
          .hasMessageContaining("gRPC message exceeds maximum size " + transport);
    }
  }

  @Test
  void metricsServeTheDocumentedSeriesAfterASession() throws Exception {
    try (TestServer s = TestServer.start(ServerConfig.defaults().withSamplerThreads(2));
        MetricsEndpoint m = MetricsEndpoint.start("127.0.0.1:0", s.server.metrics())) {
      try (TestServer.SessionClient session = s.session(s.uds)) {
        session.step(SessionRequest.newBuilder().setStepId(0)
            .addAdded(Sequence.newBuilder().setId(1).setParams(GREEDY))
            .addAdded(Sequence.newBuilder().setId(2).setParams(GREEDY))
            .addRowSequenceIds(1).addRowSequenceIds(2)
            .setLogits(TestServer.f32(2, 4, 0, 1, 2, 3, 3, 2, 1, 0)).build());
        SessionResponse bad = session.step(SessionRequest.newBuilder().setStepId(1)
            .addRowSequenceIds(7).setLogits(TestServer.f32(1, 4, 0, 1, 2, 3)).build());
        assertThat(bad.hasError()).isTrue();
        String during = scrape(m);
        assertThat(during).contains("tally_sessions_active 1.0", "tally_sequences_active 2.0");
        assertThat(session.finish()).isEqualTo("completed");
      }
      String text = scrape(m);
      assertThat(text).contains(
          "tally_steps_total{rpc=\"session\"} 1.0",
          "tally_rows_total{rpc=\"session\"} 2.0",
          "tally_logits_received_bytes_total{rpc=\"session\"} 32.0",
          "tally_step_duration_seconds_count{phase=\"decode\"} 1",
          "tally_step_duration_seconds_count{phase=\"sample\"} 1",
          "tally_step_duration_seconds_count{phase=\"queue\"} 1",
          "tally_processor_seconds_count{processor=\"greedy\"} 2",
          "tally_step_duration_seconds_bucket{phase=\"total\",le=",
          "tally_errors_total{code=\"UNKNOWN_SEQUENCE\",status=\"NOT_FOUND\"} 1.0",
          "tally_sessions_active 0.0",
          "tally_sequences_active 0.0",
          "jvm_memory_used_bytes{",
          "netty_direct_memory_used_bytes ");
    }
  }

  private static String scrape(MetricsEndpoint m) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + m.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(
        v -> assertThat(v).startsWith("text/plain"));
    return r.body();
  }
}
