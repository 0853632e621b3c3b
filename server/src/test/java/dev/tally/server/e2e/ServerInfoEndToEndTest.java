package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.api.v1.DType;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.Limits;
import dev.tally.api.v1.ListProcessorsRequest;
import dev.tally.api.v1.ParamInfo;
import dev.tally.api.v1.PluginInfo;
import dev.tally.api.v1.ProcessorInfo;
import dev.tally.api.v1.ProcessorKind;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.ServerInfo;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.core.TallyVersion;
import dev.tally.server.config.ServerConfig;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What a real server says about itself — GetServerInfo, ListProcessors, health, reflection — and
 * the bookkeeping of open sessions; plus one full-size [32 × 128256] bfloat16 step per transport.
 */
final class ServerInfoEndToEndTest {
  /** Limits that differ from the defaults, so the test sees them travel from the config. */
  private static final ServerConfig CONFIG = ServerConfig.defaults()
      .withLimits(64, 262_144, 32 * 1024 * 1024, 10, 100);

  private static final List<String> PROCESSORS = List.of("allowed_tokens", "banned_tokens",
      "min_tokens", "logit_bias", "sequence_bias", "bad_words", "repetition_penalty",
      "presence_frequency_penalty", "no_repeat_ngram", "temperature", "dynamic_temperature",
      "top_n_sigma", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff",
      "xtc");
  private static final List<String> SELECTORS = List.of("greedy", "draw");

  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start(CONFIG);
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static Stream<Arguments> transports() {
    return Stream.of(Arguments.of("tcp"), Arguments.of("uds"));
  }

  private static ManagedChannel channel(String transport) {
    return transport.equals("tcp") ? server.tcp : server.uds;
  }

  private static ServerInfo info(ManagedChannel channel) {
    return server.blocking(channel).getServerInfo(GetServerInfoRequest.getDefaultInstance());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void serverInfoDescribesTheServer(String transport) {
    ServerInfo info = info(channel(transport));

    assertThat(info.getVersion()).isNotEmpty().isNotEqualTo("unknown")
        .isEqualTo(TallyVersion.get());
    assertThat(info.getDtypesList()).containsExactlyInAnyOrder(DType.DTYPE_FLOAT32,
        DType.DTYPE_FLOAT16, DType.DTYPE_BFLOAT16);
    assertThat(info.getLimits()).isEqualTo(Limits.newBuilder()
        .setMaxRows(CONFIG.maxRows())
        .setMaxVocabSize(CONFIG.maxVocabSize())
        .setMaxMessageBytes(CONFIG.maxMessageBytes())
        .setMaxTopLogprobs(CONFIG.maxTopLogprobs())
        .setMaxSequencesPerSession(CONFIG.maxSequencesPerSession())
        .setMaxSessions(CONFIG.maxSessions())
        .setStepDeadlineMillis(CONFIG.stepDeadline().toMillis())
        .setMaxSharedMemoryRegions(64)
        .setMaxSharedMemoryBytes(64L << 30)
        .setMaxStepElements(CONFIG.maxStepElements())
        .setMaxVocabularies(64)
        .setMaxVocabularyBytes(512L << 20)
        .setMaxForkChildrenPerStep(CONFIG.maxRows())
        .setMaxDraftTokens(64)
        .build());
    // Shared memory: supported from JDK 22, on loopback and the Unix socket alike; none mapped.
    assertThat(info.getSharedMemory().getSupported())
        .as("%s", info.getSharedMemory().getUnsupportedReason())
        .isEqualTo(Runtime.version().feature() >= 22);
    assertThat(info.getSharedMemory().getServerRegions()).isZero();
    assertThat(info.getSharedMemory().getServerBytesMapped()).isZero();
    assertThat(info.getLimits().getMaxRows()).isEqualTo(64);
    assertThat(info.getLimits().getMaxTopLogprobs()).isEqualTo(10);
    assertThat(info.getTransportsList()).containsExactlyInAnyOrder(
        "127.0.0.1:" + server.server.tcpPort(), "unix:" + server.socket);
    assertThat(info.getSpiVersion()).isEqualTo("1.5"); // 1.5: TokenVocabulary in Params

    Map<String, PluginInfo> plugins = info.getPluginsList().stream()
        .collect(Collectors.toMap(PluginInfo::getName, Function.identity()));
    assertThat(plugins).containsKey("builtin");
    PluginInfo builtin = plugins.get("builtin");
    assertThat(builtin.getVersion()).isEqualTo(TallyVersion.get());
    assertThat(builtin.getProcessorsList()).containsExactlyElementsOf(
        Stream.concat(PROCESSORS.stream(), SELECTORS.stream()).collect(Collectors.toList()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void listProcessorsShowsEveryBuiltinWithItsParameters(String transport) {
    List<ProcessorInfo> all = server.blocking(channel(transport))
        .listProcessors(ListProcessorsRequest.getDefaultInstance()).getProcessorsList();
    Map<String, ProcessorInfo> byName = all.stream()
        .collect(Collectors.toMap(ProcessorInfo::getName, Function.identity()));
    assertThat(byName).hasSameSizeAs(all); // no name twice

    Set<String> builtins = all.stream().filter(p -> p.getPlugin().equals("builtin"))
        .map(ProcessorInfo::getName).collect(Collectors.toSet());
    Set<String> expected = new HashSet<>(PROCESSORS);
    expected.addAll(SELECTORS);
    assertThat(builtins).isEqualTo(expected);
    for (String name : PROCESSORS) {
      assertThat(byName.get(name).getKind()).as(name).isEqualTo(ProcessorKind.PROCESSOR);
    }
    for (String name : SELECTORS) {
      assertThat(byName.get(name).getKind()).as(name).isEqualTo(ProcessorKind.SELECTOR);
      assertThat(byName.get(name).getParamsList()).as(name).isEmpty();
    }
    for (String name : expected) {
      ProcessorInfo p = byName.get(name);
      assertThat(p.getVersion()).as(name).isEqualTo(TallyVersion.get());
      assertThat(p.getDescription()).as(name).isNotBlank();
      assertThat(p.getParamsList()).as(name)
          .allSatisfy(param -> assertThat(param.getDescription()).isNotBlank());
    }

    ParamInfo p = onlyParam(byName.get("top_p"));
    assertThat(p.getName()).isEqualTo("p");
    assertThat(p.getType()).isEqualTo("number");
    assertThat(p.getRequired()).isFalse();
    assertThat(p.hasDefaultValue()).isTrue();
    assertThat(p.getDefaultValue().getNumberValue()).isEqualTo(1.0);
    assertThat(p.hasMinimum()).isTrue();
    assertThat(p.getMinimum()).isEqualTo(0.0);
    assertThat(p.hasMaximum()).isTrue();
    assertThat(p.getMaximum()).isEqualTo(1.0);

    ParamInfo k = onlyParam(byName.get("top_k"));
    assertThat(k.getName()).isEqualTo("k");
    assertThat(k.getType()).isEqualTo("integer");
    assertThat(k.getRequired()).isTrue();
    assertThat(k.hasDefaultValue()).isFalse();
    assertThat(k.getMinimum()).isEqualTo(1.0);

    ParamInfo t = onlyParam(byName.get("temperature"));
    assertThat(t.getName()).isEqualTo("temperature");
    assertThat(t.getDefaultValue().getNumberValue()).isEqualTo(1.0);
    assertThat(t.getMinimum()).isEqualTo(0.0);
    assertThat(t.hasMaximum()).isFalse();

    ParamInfo banned = onlyParam(byName.get("banned_tokens"));
    assertThat(banned.getName()).isEqualTo("token_ids");
    assertThat(banned.getType()).isEqualTo("token_ids");
    assertThat(banned.getRequired()).isTrue();

    ParamInfo bias = onlyParam(byName.get("logit_bias"));
    assertThat(bias.getName()).isEqualTo("bias");
    assertThat(bias.getType()).isEqualTo("token_bias");

    assertThat(byName.get("presence_frequency_penalty").getParamsList())
        .extracting(ParamInfo::getName).containsExactly("presence", "frequency", "last_n");
    ParamInfo presence = byName.get("presence_frequency_penalty").getParams(0);
    assertThat(presence.getMinimum()).isEqualTo(-2.0);
    assertThat(presence.getMaximum()).isEqualTo(2.0);
    assertThat(presence.getDefaultValue().getNumberValue()).isEqualTo(0.0);
    ParamInfo lastN = byName.get("presence_frequency_penalty").getParams(2);
    assertThat(lastN.getType()).isEqualTo("integer");
    assertThat(lastN.getDefaultValue().getNumberValue()).isEqualTo(-1.0);
  }

  private static ParamInfo onlyParam(ProcessorInfo p) {
    assertThat(p.getParamsList()).as(p.getName()).hasSize(1);
    return p.getParams(0);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void healthIsServing(String transport) {
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel(transport))
        .withDeadlineAfter(10, TimeUnit.SECONDS);
    for (String service : List.of("", "tally.v1.Sampler")) {
      assertThat(health.check(HealthCheckRequest.newBuilder().setService(service).build())
          .getStatus()).as("'%s'", service).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void reflectionListsTheSamplerService(String transport) throws Exception {
    CompletableFuture<ServerReflectionResponse> reply = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc
        .newStub(channel(transport)).withDeadlineAfter(10, TimeUnit.SECONDS)
        .serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(ServerReflectionResponse r) {
            reply.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            reply.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            reply.completeExceptionally(new AssertionError("completed without a response"));
          }
        });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    ServerReflectionResponse r = reply.get(10, TimeUnit.SECONDS);
    requests.onCompleted();

    assertThat(r.hasListServicesResponse()).as("%s", r).isTrue();
    assertThat(r.getListServicesResponse().getServiceList()).extracting(ServiceResponse::getName)
        .contains("tally.v1.Sampler", "grpc.health.v1.Health");
  }

  private static int activeSessions() {
    return info(server.tcp).getActiveSessions();
  }

  /** Polls GetServerInfo for up to 5 s. */
  private static void awaitActiveSessions(int expected) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    int seen;
    while ((seen = activeSessions()) != expected && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(seen).as("active_sessions").isEqualTo(expected);
  }

  private static SessionResponse oneStep(TestServer.SessionClient session)
      throws InterruptedException {
    SessionResponse r = session.step(SessionRequest.newBuilder().setStepId(7)
        .addAdded(Sequence.newBuilder().setId(1)
            .setParams(SamplingParams.newBuilder().setTemperature(0f)))
        .addRowSequenceIds(1).setLogits(TestServer.f32(1, 3, 0f, 2f, 1f)).build());
    assertThat(r.hasError()).isFalse();
    assertThat(r.getStepId()).isEqualTo(7);
    assertThat(r.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(1);
    return r;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void cancelledSessionIsFreed(String transport) throws Exception {
    awaitActiveSessions(0);
    TestServer.SessionClient session = server.session(channel(transport));
    oneStep(session);
    assertThat(activeSessions()).isGreaterThanOrEqualTo(1);
    session.cancel();
    awaitActiveSessions(0);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void halfClosedSessionCompletesAndIsFreed(String transport) throws Exception {
    awaitActiveSessions(0);
    TestServer.SessionClient session = server.session(channel(transport));
    oneStep(session);
    assertThat(activeSessions()).isEqualTo(1);
    assertThat(session.finish()).isEqualTo("completed");
    awaitActiveSessions(0);
  }

  @Test
  void twoSessionsAreCountedSeparately() throws Exception {
    awaitActiveSessions(0);
    TestServer.SessionClient a = server.session(server.tcp);
    TestServer.SessionClient b = server.session(server.uds);
    oneStep(a);
    oneStep(b); // same sequence id, other session: no clash
    assertThat(activeSessions()).isEqualTo(2);
    assertThat(a.finish()).isEqualTo("completed");
    awaitActiveSessions(1);
    b.cancel();
    awaitActiveSessions(0);
  }

  // ---------------------------------------------------------------------------------------------
  // A full-size step: [32 × 128256] bfloat16, 7.8 MiB, above gRPC's 4 MiB default.

  private static final int ROWS = 32;
  private static final int VOCAB = 128_256;

  private static short bf16(float f) {
    return (short) (Float.floatToIntBits(f) >>> 16); // exact for the values used here
  }

  /** Row r's planted argmax: distinct per row, the first at the last token id. */
  private static int plantedArgmax(int row) {
    return (row * 4133 + VOCAB - 1) % VOCAB;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void fullSizeBfloat16StepPicksThePlantedArgmaxOfEveryRow(String transport) {
    Random random = new Random(42);
    short[] bits = new short[ROWS * VOCAB];
    for (int i = 0; i < bits.length; i++) {
      bits[i] = bf16((random.nextInt(64) - 32) / 8f); // [-4, 4) in steps of 1/8, exact in bf16
    }
    Set<Integer> planted = new HashSet<>();
    for (int row = 0; row < ROWS; row++) {
      int token = plantedArgmax(row);
      planted.add(token);
      bits[row * VOCAB + token] = bf16(8f);
    }
    assertThat(planted).hasSize(ROWS);
    SampleRequest request = SampleRequest.newBuilder()
        .addParams(SamplingParams.newBuilder().setTemperature(0f))
        .setLogits(TestServer.halves(DType.DTYPE_BFLOAT16, ROWS, VOCAB, bits))
        .build();
    assertThat(request.getSerializedSize()).isGreaterThan(4 * 1024 * 1024);
    assertThat(request.getLogits().getData().size()).isEqualTo(ROWS * VOCAB * 2);

    SampleResponse r = server.blocking(channel(transport)).sample(request);

    assertThat(r.getChoicesCount()).isEqualTo(ROWS);
    for (int row = 0; row < ROWS; row++) {
      TokenChoice c = r.getChoices(row);
      assertThat(c.hasError()).as("row %d: %s", row, c.getError()).isFalse();
      assertThat(c.getTokenId()).as("row %d", row).isEqualTo(plantedArgmax(row));
      assertThat(c.getRank()).as("row %d", row).isEqualTo(1);
      assertThat(c.getLogprob()).as("row %d", row).isLessThan(0f).isGreaterThan(-20f);
    }
  }
}
