package dev.tally.server.e2e;

import static dev.tally.server.e2e.TestServer.f32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.ProcessorSpec;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SequenceTokens;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.TokenHistory;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad requests through a real server, over TCP and a Unix socket: each is refused with the exact
 * status code, {@code ErrorInfo.reason}, {@code BadRequest} field and message of DESIGN §2–§3, and
 * the channel or session goes on serving afterwards.
 */
final class BadInputEndToEndTest {
  private static final String DOMAIN = "tally.dev";
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  private static ManagedChannel channel(String transport) {
    return transport.equals("tcp") ? server.tcp : server.uds;
  }

  // ---------------------------------------------------------------------------------------------
  // Unary Sample: whole-request errors

  /** One refused {@code Sample}: what is sent and exactly how it must be refused. */
  record UnaryCase(String name, SampleRequest request, Status.Code code, String reason,
      String field, String message) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static SamplingParams greedy() {
    return SamplingParams.newBuilder().setTemperature(0f).build();
  }

  /** A good [2 × 4] float32 tensor (argmax 2 and 0). */
  private static Logits twoByFour() {
    return f32(2, 4, 0f, 1f, 3f, 2f, 5f, 4f, -1f, 0f);
  }

  private static SampleRequest.Builder withLogits(Logits logits, SamplingParams... params) {
    return SampleRequest.newBuilder().setLogits(logits).addAllParams(Arrays.asList(params));
  }

  private static Logits resized(Logits logits, int bytes) {
    byte[] data = Arrays.copyOf(logits.getData().toByteArray(), bytes);
    return logits.toBuilder().setData(ByteString.copyFrom(data)).build();
  }

  private static ProcessorSpec spec(String name, Struct params) {
    return ProcessorSpec.newBuilder().setName(name).setParams(params).build();
  }

  private static Struct struct(String key, Value value) {
    return Struct.newBuilder().putFields(key, value).build();
  }

  private static Value number(double d) {
    return Value.newBuilder().setNumberValue(d).build();
  }

  static List<UnaryCase> unaryCases() {
    Status.Code invalid = Status.Code.INVALID_ARGUMENT;
    Status.Code exhausted = Status.Code.RESOURCE_EXHAUSTED;
    return List.of(
        new UnaryCase("data one byte short",
            withLogits(resized(twoByFour(), 31), greedy()).build(),
            invalid, "INVALID_TENSOR", "logits.data", "logits.data has 31 bytes; [2 x 4]"),
        new UnaryCase("data one byte long",
            withLogits(resized(twoByFour(), 33), greedy()).build(),
            invalid, "INVALID_TENSOR", "logits.data", "needs 32"),
        new UnaryCase("float16 data of float32 length",
            withLogits(twoByFour().toBuilder().setDtype(DType.DTYPE_FLOAT16).build(), greedy())
                .build(),
            invalid, "INVALID_TENSOR", "logits.data", "logits.data has 32 bytes"),
        new UnaryCase("DTYPE_UNSPECIFIED",
            withLogits(twoByFour().toBuilder().setDtype(DType.DTYPE_UNSPECIFIED).build(), greedy())
                .build(),
            invalid, "INVALID_TENSOR", "logits.dtype", "logits.dtype must be DTYPE_FLOAT32"),
        new UnaryCase("vocab_size 0",
            withLogits(f32(2, 0), greedy()).build(),
            invalid, "INVALID_TENSOR", "logits.vocab_size", "logits.vocab_size must be positive"),
        new UnaryCase("missing logits",
            SampleRequest.newBuilder().addParams(greedy()).build(),
            invalid, "INVALID_TENSOR", "logits", "logits is required"),
        new UnaryCase("rows over max_rows",
            withLogits(f32(4097, 4), greedy()).build(),
            exhausted, "LIMIT_EXCEEDED", "logits.rows", "limit (max_rows) is 4096"),
        // Checked before the data: a header is enough.
        new UnaryCase("rows × vocab_size over max_step_elements",
            withLogits(f32(4096, 32_769), greedy()).build(),
            exhausted, "LIMIT_EXCEEDED", "logits", "logits has 4096 × 32769 = 134221824 elements;"
                + " this server's limit (max_step_elements) is 134217728"),
        new UnaryCase("vocab_size over max_vocab_size",
            withLogits(f32(1, (1 << 20) + 1), greedy()).build(),
            exhausted, "LIMIT_EXCEEDED", "logits.vocab_size", "limit (max_vocab_size) is 1048576"),
        new UnaryCase("2 params for 3 rows",
            withLogits(f32(3, 2, 0, 1, 0, 1, 0, 1), greedy(), greedy()).build(),
            invalid, "INVALID_PARAMS", "params", "one per row (3), got 2"),
        new UnaryCase("1 history for 2 rows",
            withLogits(twoByFour(), greedy())
                .addHistories(TokenHistory.newBuilder().addPromptTokenIds(1)).build(),
            invalid, "INVALID_PARAMS", "histories", "one entry per row (2), got 1"),
        new UnaryCase("history token id = vocab_size",
            withLogits(f32(1, 4, 0, 1, 2, 3), greedy())
                .addHistories(TokenHistory.newBuilder().addPromptTokenIds(1).addOutputTokenIds(4))
                .build(),
            invalid, "INVALID_PARAMS", "histories[0]", "token id 4, outside the vocabulary of 4"),
        new UnaryCase("unknown processor",
            withLogits(twoByFour(), SamplingParams.newBuilder()
                .addProcessors(ProcessorSpec.newBuilder().setName("nope")).build()).build(),
            Status.Code.NOT_FOUND, "UNKNOWN_PROCESSOR", "params[0].processors[0].name",
            "unknown processor 'nope'; known: "),
        new UnaryCase("unknown processor lists top_k",
            withLogits(twoByFour(), SamplingParams.newBuilder()
                .addProcessors(ProcessorSpec.newBuilder().setName("nope")).build()).build(),
            Status.Code.NOT_FOUND, "UNKNOWN_PROCESSOR", "params[0].processors[0].name", "top_k"),
        new UnaryCase("unknown processor in pipeline",
            withLogits(twoByFour(), SamplingParams.newBuilder()
                .addPipeline(ProcessorSpec.newBuilder().setName("top_kk")).build()).build(),
            Status.Code.NOT_FOUND, "UNKNOWN_PROCESSOR", "params[0].pipeline[0].name",
            "unknown processor 'top_kk'"),
        new UnaryCase("pipeline with temperature",
            withLogits(twoByFour(), SamplingParams.newBuilder().setTemperature(0.5f)
                .addPipeline(ProcessorSpec.newBuilder().setName("greedy")).build()).build(),
            invalid, "INVALID_PARAMS", "params[0].pipeline", "cannot be combined with temperature"),
        new UnaryCase("selector not last in pipeline",
            withLogits(twoByFour(), SamplingParams.newBuilder()
                .addPipeline(ProcessorSpec.newBuilder().setName("greedy"))
                .addPipeline(ProcessorSpec.newBuilder().setName("top_p")).build()).build(),
            invalid, "INVALID_PARAMS", "params[0].pipeline[0].name", "must be the last stage"),
        new UnaryCase("top_p 1.5",
            withLogits(twoByFour(), SamplingParams.newBuilder().setTopP(1.5f).build()).build(),
            invalid, "INVALID_PARAMS", "params[0].top_p", "top_p must be in (0, 1], got 1.5"),
        new UnaryCase("top_p 0",
            withLogits(twoByFour(), SamplingParams.newBuilder().setTopP(0f).build()).build(),
            invalid, "INVALID_PARAMS", "params[0].top_p", "top_p must be in (0, 1]"),
        new UnaryCase("top_p NaN",
            withLogits(twoByFour(), SamplingParams.newBuilder().setTopP(Float.NaN).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].top_p", "top_p must be"),
        new UnaryCase("bad top_p in the second of per-row params",
            withLogits(twoByFour(), greedy(), SamplingParams.newBuilder().setTopP(2f).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[1].top_p", "top_p must be in (0, 1], got 2.0"),
        new UnaryCase("temperature -1",
            withLogits(twoByFour(), SamplingParams.newBuilder().setTemperature(-1f).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].temperature",
            "temperature must be finite and >= 0, got -1.0"),
        new UnaryCase("temperature NaN",
            withLogits(twoByFour(), SamplingParams.newBuilder().setTemperature(Float.NaN).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].temperature",
            "temperature must be finite and >= 0, got NaN"),
        new UnaryCase("repetition_penalty 0",
            withLogits(twoByFour(), SamplingParams.newBuilder().setRepetitionPenalty(0f).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].repetition_penalty",
            "repetition_penalty must be in (0, +inf), got 0.0"),
        new UnaryCase("presence_penalty 3",
            withLogits(twoByFour(), SamplingParams.newBuilder().setPresencePenalty(3f).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].presence_penalty",
            "presence_penalty must be in [-2, 2], got 3.0"),
        new UnaryCase("frequency_penalty -2.5",
            withLogits(twoByFour(), SamplingParams.newBuilder().setFrequencyPenalty(-2.5f).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].frequency_penalty",
            "frequency_penalty must be in [-2, 2], got -2.5"),
        new UnaryCase("top_k -2",
            withLogits(twoByFour(), SamplingParams.newBuilder().setTopK(-2).build()).build(),
            invalid, "INVALID_PARAMS", "params[0].top_k", "top_k must be >= 0 (0 or -1 = off), got -2"),
        new UnaryCase("logit_bias id = vocab_size",
            withLogits(twoByFour(), SamplingParams.newBuilder().putLogitBias(4, 1f).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].logit_bias",
            "names token id 4, outside the vocabulary of 4"),
        new UnaryCase("negative logit_bias id",
            withLogits(twoByFour(), SamplingParams.newBuilder().putLogitBias(-1, 1f).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].logit_bias", "negative token id: -1"),
        new UnaryCase("NaN logit_bias value",
            withLogits(twoByFour(), SamplingParams.newBuilder().putLogitBias(1, Float.NaN).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].logit_bias",
            "logit_bias[1] must be finite or -inf, got NaN"),
        new UnaryCase("banned token id = vocab_size",
            withLogits(twoByFour(), SamplingParams.newBuilder().addBannedTokenIds(4).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].banned_token_ids",
            "names token id 4, outside the vocabulary of 4"),
        new UnaryCase("negative eos token id",
            withLogits(twoByFour(), SamplingParams.newBuilder().addEosTokenIds(-1).build())
                .build(),
            invalid, "INVALID_PARAMS", "params[0].eos_token_ids", "negative token id: -1"),
        new UnaryCase("top_logprobs 21",
            withLogits(twoByFour(), SamplingParams.newBuilder().setTopLogprobs(21).build())
                .build(),
            exhausted, "LIMIT_EXCEEDED", "params[0].top_logprobs",
            "top_logprobs is 21; this server's limit (max_top_logprobs) is 20"),
        new UnaryCase("pipeline processor with an unknown param",
            withLogits(twoByFour(), SamplingParams.newBuilder()
                .addPipeline(spec("top_p", struct("x", number(1)))).build()).build(),
            invalid, "INVALID_PARAMS", "params[0].pipeline[0].params.x",
            "processor 'top_p' has no parameter 'x'; its parameters are [p]"),
        new UnaryCase("pipeline processor param of the wrong JSON type",
            withLogits(twoByFour(), SamplingParams.newBuilder()
                .addPipeline(spec("top_p", struct("p", Value.newBuilder().setStringValue("high")
                    .build()))).build()).build(),
            invalid, "INVALID_PARAMS", "params[0].pipeline[0].params.p",
            "top_p.p must be a number, got a string"),
        new UnaryCase("pipeline processor param out of range",
            withLogits(twoByFour(), SamplingParams.newBuilder()
                .addPipeline(spec("top_k", struct("k", number(0)))).build()).build(),
            invalid, "INVALID_PARAMS", "params[0].pipeline[0].params.k", "top_k.k must be in [1, "),
        new UnaryCase("pipeline processor missing a required param",
            withLogits(twoByFour(), SamplingParams.newBuilder()
                .addPipeline(ProcessorSpec.newBuilder().setName("top_k")).build()).build(),
            invalid, "INVALID_PARAMS", "params[0].pipeline[0].params.k", "top_k.k is required"));
  }

  static Stream<Arguments> unaryRows() {
    return Stream.of("tcp", "uds")
        .flatMap(t -> unaryCases().stream().map(c -> Arguments.of(t, c)));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("unaryRows")
  void badSampleIsRefusedAndTheChannelGoesOn(String transport, UnaryCase c) {
    ManagedChannel channel = channel(transport);
    StatusRuntimeException e = null;
    try {
      SampleResponse r = server.blocking(channel).sample(c.request());
      fail("expected " + c.code() + " but the request succeeded: " + r);
    } catch (StatusRuntimeException thrown) {
      e = thrown;
    }
    assertThat(e.getStatus().getCode()).isEqualTo(c.code());
    com.google.rpc.Status status = StatusProto.fromThrowable(e);
    assertThat(status).as("google.rpc.Status in the trailers").isNotNull();
    assertThat(status.getCode()).isEqualTo(c.code().value());
    assertThat(status.getMessage()).contains(c.message());
    assertThat(e.getStatus().getDescription()).isEqualTo(status.getMessage());
    assertDetails(status, c.reason(), c.field());

    assertGoodSample(channel);
  }

  /** A good {@code Sample} right after a bad one, on the same channel. */
  private static void assertGoodSample(ManagedChannel channel) {
    SampleResponse ok = server.blocking(channel).sample(withLogits(twoByFour(), greedy()).build());
    assertThat(ok.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(2, 0);
    assertThat(ok.getChoicesList()).allSatisfy(ch -> assertThat(ch.hasError()).isFalse());
  }

  /** Exactly one ErrorInfo (reason, domain, field) and one BadRequest naming {@code field}. */
  private static void assertDetails(com.google.rpc.Status status, String reason, String field) {
    ErrorInfo info = null;
    BadRequest bad = null;
    try {
      for (Any any : status.getDetailsList()) {
        if (any.is(ErrorInfo.class)) {
          assertThat(info).as("one ErrorInfo").isNull();
          info = any.unpack(ErrorInfo.class);
        } else if (any.is(BadRequest.class)) {
          assertThat(bad).as("one BadRequest").isNull();
          bad = any.unpack(BadRequest.class);
        } else {
          fail("unexpected detail " + any.getTypeUrl());
        }
      }
    } catch (InvalidProtocolBufferException ex) {
      throw new AssertionError(ex);
    }
    assertThat(info).as("ErrorInfo").isNotNull();
    assertThat(info.getReason()).isEqualTo(reason);
    assertThat(info.getDomain()).isEqualTo(DOMAIN);
    if (field == null) {
      assertThat(info.getMetadataMap()).doesNotContainKey("field");
      assertThat(bad).as("BadRequest").isNull();
      return;
    }
    assertThat(info.getMetadataMap()).containsEntry("field", field);
    assertThat(bad).as("BadRequest").isNotNull();
    assertThat(bad.getFieldViolationsList()).hasSize(1);
    assertThat(bad.getFieldViolations(0).getField()).isEqualTo(field);
    assertThat(bad.getFieldViolations(0).getDescription()).isEqualTo(status.getMessage());
  }

  // ---------------------------------------------------------------------------------------------
  // Unary Sample: per-row errors

  static Stream<Arguments> transports() {
    return Stream.of(Arguments.of("tcp"), Arguments.of("uds"));
  }

  /** Rows 0 and 2 have argmax 4 and 1; row 1 is {@code middle}. */
  private static Logits threeRows(float... middle) {
    float[] v = new float[15];
    float[] row0 = {0f, 1f, 2f, 3f, 9f};
    float[] row2 = {-3f, 7f, 6.5f, 0f, -1f};
    System.arraycopy(row0, 0, v, 0, 5);
    System.arraycopy(middle, 0, v, 5, 5);
    System.arraycopy(row2, 0, v, 10, 5);
    return f32(3, 5, v);
  }

  private static void assertRowFailed(TokenChoice choice, Status.Code code, String reason,
      String... messageParts) {
    assertThat(choice.getTokenId()).isEqualTo(-1);
    assertThat(choice.hasError()).isTrue();
    assertThat(choice.getError().getCode()).isEqualTo(code.value());
    assertThat(choice.getError().getMessage()).contains(messageParts);
    assertDetails(choice.getError(), reason, "logits.data");
  }

  private static void assertRowsZeroAndTwoSampled(List<TokenChoice> choices) {
    assertThat(choices).hasSize(3);
    assertThat(choices.get(0).getTokenId()).isEqualTo(4);
    assertThat(choices.get(0).hasError()).isFalse();
    assertThat(choices.get(2).getTokenId()).isEqualTo(1);
    assertThat(choices.get(2).hasError()).isFalse();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void nanFailsOnlyItsRow(String transport) {
    ManagedChannel channel = channel(transport);
    SampleResponse r = server.blocking(channel).sample(
        withLogits(threeRows(0f, 1f, 2f, Float.NaN, 1f), greedy()).build());
    assertRowsZeroAndTwoSampled(r.getChoicesList());
    assertRowFailed(r.getChoices(1), Status.Code.INVALID_ARGUMENT, "INVALID_LOGITS",
        "row 1", "token 3", "NaN");
    assertGoodSample(channel);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void positiveInfinityFailsOnlyItsRow(String transport) {
    ManagedChannel channel = channel(transport);
    SampleResponse r = server.blocking(channel).sample(
        withLogits(threeRows(Float.POSITIVE_INFINITY, 1f, 2f, 0f, 1f), greedy()).build());
    assertRowsZeroAndTwoSampled(r.getChoicesList());
    assertRowFailed(r.getChoices(1), Status.Code.INVALID_ARGUMENT, "INVALID_LOGITS",
        "row 1", "token 0", "Infinity");
    assertGoodSample(channel);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void allNegativeInfinityRowHasNoCandidates(String transport) {
    ManagedChannel channel = channel(transport);
    float n = Float.NEGATIVE_INFINITY;
    SampleResponse r = server.blocking(channel).sample(
        withLogits(threeRows(n, n, n, n, n), greedy()).build());
    assertRowsZeroAndTwoSampled(r.getChoicesList());
    assertRowFailed(r.getChoices(1), Status.Code.FAILED_PRECONDITION, "NO_CANDIDATES", "row 1");
    assertGoodSample(channel);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void partlyNegativeInfinityRowIsMasked(String transport) {
    float n = Float.NEGATIVE_INFINITY;
    SampleResponse r = server.blocking(channel(transport)).sample(
        withLogits(threeRows(n, -50f, n, -60f, n), greedy()).build());
    assertRowsZeroAndTwoSampled(r.getChoicesList());
    assertThat(r.getChoices(1).hasError()).isFalse();
    assertThat(r.getChoices(1).getTokenId()).isEqualTo(1);
  }

  // ---------------------------------------------------------------------------------------------
  // Session: whole-step errors

  private static final int V = 6;
  private static final long GHOST = 99;

  private static Sequence sequence(long id) {
    return Sequence.newBuilder().setId(id).setParams(greedy()).build();
  }

  /** A [rows × 6] tensor whose row i has its maximum at {@code argmax[i]}. */
  private static Logits planted(int... argmax) {
    return f32(argmax.length, V, plantedValues(argmax));
  }

  private static float[] plantedValues(int... argmax) {
    float[] v = new float[argmax.length * V];
    for (int row = 0; row < argmax.length; row++) {
      for (int t = 0; t < V; t++) {
        v[row * V + t] = (float) Math.sin(row * 7 + t); // in [-1, 1]
      }
      v[row * V + argmax[row]] = 5f;
    }
    return v;
  }

  /**
   * One refused session step. {@code ghost}: a sequence the bad step added, which must not be
   * registered afterwards.
   */
  record StepCase(String name, SessionRequest step, Status.Code code, String reason, String field,
      String message, boolean ghost) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static SessionRequest.Builder badStep() {
    return SessionRequest.newBuilder().setStepId(2);
  }

  static List<StepCase> stepCases() {
    Status.Code invalid = Status.Code.INVALID_ARGUMENT;
    return List.of(
        new StepCase("data one byte short",
            badStep().addAdded(sequence(GHOST)).addRowSequenceIds(1).addRowSequenceIds(GHOST)
                .setLogits(resized(planted(1, 2), 2 * V * 4 - 1)).build(),
            invalid, "INVALID_TENSOR", "logits.data", "logits.data has 47 bytes", true),
        new StepCase("DTYPE_UNSPECIFIED",
            badStep().addAdded(sequence(GHOST)).addRowSequenceIds(GHOST)
                .setLogits(planted(1).toBuilder().setDtype(DType.DTYPE_UNSPECIFIED)).build(),
            invalid, "INVALID_TENSOR", "logits.dtype", "logits.dtype must be", true),
        new StepCase("rows over max_rows",
            badStep().addAdded(sequence(GHOST)).addRowSequenceIds(GHOST)
                .setLogits(f32(4097, V)).build(),
            Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", "logits.rows",
            "limit (max_rows) is 4096", true),
        new StepCase("2 rows, 1 row_sequence_id",
            badStep().addAdded(sequence(GHOST)).addRowSequenceIds(1).setLogits(planted(1, 2))
                .build(),
            invalid, "INVALID_TENSOR", "row_sequence_ids",
            "row_sequence_ids has 1 entries but logits.rows is 2", true),
        new StepCase("unknown sequence in the row map",
            badStep().addAdded(sequence(GHOST)).addRowSequenceIds(42).addRowSequenceIds(1)
                .setLogits(planted(1, 2)).build(),
            Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE", "row_sequence_ids[0]",
            "row_sequence_ids[0]: sequence 42 is not registered", true),
        new StepCase("row of a sequence removed in the same step",
            badStep().addRemoved(1).addRowSequenceIds(1).setLogits(planted(3)).build(),
            Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE", "row_sequence_ids[0]",
            "sequence 1 is not registered", false),
        new StepCase("sequence in two rows",
            badStep().addAdded(sequence(GHOST)).addRowSequenceIds(1).addRowSequenceIds(1)
                .setLogits(planted(1, 2)).build(),
            invalid, "INVALID_PARAMS", "row_sequence_ids[1]",
            "appears in more than one row of the step", true),
        new StepCase("duplicate add of a registered sequence",
            badStep().addAdded(sequence(GHOST)).addAdded(sequence(1)).build(),
            Status.Code.ALREADY_EXISTS, "DUPLICATE_SEQUENCE", "added[1].id",
            "sequence 1 is already registered", true),
        new StepCase("the same sequence added twice in one step",
            badStep().addAdded(sequence(GHOST)).addAdded(sequence(GHOST)).build(),
            Status.Code.ALREADY_EXISTS, "DUPLICATE_SEQUENCE", "added[1].id",
            "sequence 99 is already registered", true),
        new StepCase("removing an unknown sequence",
            badStep().addAdded(sequence(GHOST)).addRemoved(77).build(),
            Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE", "removed[0]",
            "removed[0]: sequence 77 is not registered", true),
        new StepCase("appending to an unknown sequence",
            badStep().addAdded(sequence(GHOST))
                .addAppended(SequenceTokens.newBuilder().setSequenceId(78).addTokenIds(1)).build(),
            Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE", "appended[0].sequence_id",
            "appended[0]: sequence 78 is not registered", true),
        new StepCase("bad params in added",
            badStep().addAdded(Sequence.newBuilder().setId(GHOST)
                .setParams(SamplingParams.newBuilder().setTopP(1.5f))).build(),
            invalid, "INVALID_PARAMS", "added[0].params.top_p",
            "top_p must be in (0, 1], got 1.5", true),
        new StepCase("unknown processor in added",
            badStep().addAdded(Sequence.newBuilder().setId(GHOST)
                .setParams(SamplingParams.newBuilder()
                    .addProcessors(ProcessorSpec.newBuilder().setName("nope")))).build(),
            Status.Code.NOT_FOUND, "UNKNOWN_PROCESSOR", "added[0].params.processors[0].name",
            "top_k", true));
  }

  static Stream<Arguments> stepRows() {
    return Stream.of("tcp", "uds")
        .flatMap(t -> stepCases().stream().map(c -> Arguments.of(t, c)));
  }

  /** Step 1 registers sequences 1 and 2 and samples them (tokens 4 and 1). */
  private static TestServer.SessionClient openSession(String transport)
      throws InterruptedException {
    TestServer.SessionClient session = server.session(channel(transport));
    SessionResponse first = session.step(SessionRequest.newBuilder().setStepId(1)
        .addAdded(sequence(1)).addAdded(sequence(2))
        .addRowSequenceIds(1).addRowSequenceIds(2).setLogits(planted(4, 1)).build());
    assertThat(first.getStepId()).isEqualTo(1);
    assertThat(first.hasError()).isFalse();
    assertThat(first.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(4, 1);
    return session;
  }

  /** Sequences 1 and 2 still sample correctly, in swapped row order. */
  private static void assertGoodStep(TestServer.SessionClient session, long stepId)
      throws InterruptedException {
    SessionResponse ok = session.step(SessionRequest.newBuilder().setStepId(stepId)
        .addRowSequenceIds(2).addRowSequenceIds(1).setLogits(planted(0, 5)).build());
    assertThat(ok.getStepId()).isEqualTo(stepId);
    assertThat(ok.hasError()).as("error of %s", ok).isFalse();
    assertThat(ok.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(0, 5);
    assertThat(ok.getChoicesList()).allSatisfy(ch -> assertThat(ch.hasError()).isFalse());
  }

  private static void assertStepError(SessionResponse r, long stepId, Status.Code code,
      String reason, String field, String message) {
    assertThat(r.getStepId()).isEqualTo(stepId);
    assertThat(r.getChoicesList()).isEmpty();
    assertThat(r.hasError()).isTrue();
    assertThat(r.getError().getCode()).isEqualTo(code.value());
    assertThat(r.getError().getMessage()).contains(message);
    assertDetails(r.getError(), reason, field);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("stepRows")
  void badStepIsAnsweredWithAnErrorAndTheSessionGoesOn(String transport, StepCase c)
      throws Exception {
    try (TestServer.SessionClient session = openSession(transport)) {
      SessionResponse bad = session.step(c.step());
      assertStepError(bad, 2, c.code(), c.reason(), c.field(), c.message());

      if (c.ghost()) {
        // The bad step changed nothing: the sequence it added is not registered.
        SessionResponse ghost = session.step(SessionRequest.newBuilder().setStepId(3)
            .addRowSequenceIds(GHOST).setLogits(planted(2)).build());
        assertStepError(ghost, 3, Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE",
            "row_sequence_ids[0]", "sequence 99 is not registered");
      }
      assertGoodStep(session, 4);
      assertThat(session.finish()).isEqualTo("completed");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Session: per-row errors

  @ParameterizedTest(name = "{0}")
  @MethodSource("transports")
  void nanRowInASessionFailsOnlyThatRow(String transport) throws Exception {
    try (TestServer.SessionClient session = openSession(transport)) {
      float[] v = plantedValues(3, 2);
      v[0 * V + 5] = Float.NaN;
      SessionResponse r = session.step(SessionRequest.newBuilder().setStepId(2)
          .addRowSequenceIds(1).addRowSequenceIds(2).setLogits(f32(2, V, v)).build());
      assertThat(r.getStepId()).isEqualTo(2);
      assertThat(r.hasError()).isFalse();
      assertThat(r.getChoicesCount()).isEqualTo(2);
      assertThat(r.getChoices(0).getTokenId()).isEqualTo(-1);
      assertThat(r.getChoices(0).getError().getCode())
          .isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      assertThat(r.getChoices(0).getError().getMessage()).contains("row 0", "token 5", "NaN");
      assertDetails(r.getChoices(0).getError(), "INVALID_LOGITS", "logits.data");
      assertThat(r.getChoices(1).hasError()).isFalse();
      assertThat(r.getChoices(1).getTokenId()).isEqualTo(2);

      assertGoodStep(session, 3);
      assertThat(session.finish()).isEqualTo("completed");
    }
  }
}
