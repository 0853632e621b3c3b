package dev.tally.server.e2e;

import static dev.tally.server.e2e.TestServer.f32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
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
import dev.tally.server.config.ServerConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The rest of issue 8's bad-input matrix, beside {@link BadInputEndToEndTest}: shapes whose
 * products overflow 32 and 64 bits (on a server whose limits are raised to the maximum, so the
 * tensor check itself is reached), "negative-looking" uint32 values, empty tensors, NaN and ±Inf in
 * the first, middle and last position, enormous {@code logit_bias} maps, processor params of the
 * wrong JSON type, deeply nested or huge, processor names with odd characters, and session fields
 * (duplicate ids in {@code added}, {@code removed} and the row map, appended ids out of range).
 * Every row gives the expected status code and {@code ErrorInfo.reason} (and field where one is
 * to blame), and checks that the same channel or session serves a good request right after.
 */
final class BadInputMatrixTest {
  private static TestServer server;
  /** Limits at their maxima: the tensor's own shape checks are what refuse the request. */
  private static TestServer open;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    open = TestServer.start(ServerConfig.defaults().withLimits(Integer.MAX_VALUE,
        Integer.MAX_VALUE, 64 << 20, 20, 1024).withMaxStepElements(Long.MAX_VALUE));
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
    open.close();
  }

  private static final Status.Code INVALID = Status.Code.INVALID_ARGUMENT;
  /** A NaN or +Inf logit fails its row (the other rows are sampled). */
  static final Expect NAN_OR_PLUS_INF_ROW = e(INVALID, "INVALID_LOGITS", "logits.data");
  /** A session sequence whose history holds a token outside the step's vocabulary. */
  static final Expect HISTORY_OUTSIDE_VOCABULARY_ROW =
      e(INVALID, "INVALID_PARAMS", "row_sequence_ids[1]");

  /** RegisterVocabulary under a taken name with other tokens (VocabularyEndToEndTest). */
  static final Expect VOCABULARY_NAME_TAKEN =
      e(Status.Code.ALREADY_EXISTS, "VOCABULARY_EXISTS", "name");

  /** An expected refusal: status, ErrorInfo.reason, BadRequest field (null: not checked). */
  record Expect(Status.Code code, String reason, String field) {}

  record Case(String name, boolean openLimits, SampleRequest request, Expect expect) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static SamplingParams greedy() {
    return SamplingParams.newBuilder().setTemperature(0f).build();
  }

  private static Logits twoByFour() {
    return f32(2, 4, 0f, 1f, 3f, 2f, 5f, 4f, -1f, 0f);
  }

  private static SampleRequest req(Logits logits, SamplingParams... params) {
    return SampleRequest.newBuilder().setLogits(logits).addAllParams(Arrays.asList(params)).build();
  }

  private static Logits shape(int rows, int vocab, int bytes) {
    return Logits.newBuilder().setDtype(DType.DTYPE_FLOAT32).setRows(rows).setVocabSize(vocab)
        .setData(ByteString.copyFrom(new byte[bytes])).build();
  }

  private static SamplingParams withProcessor(String name, Struct params) {
    return SamplingParams.newBuilder().setTemperature(0f)
        .addProcessors(ProcessorSpec.newBuilder().setName(name).setParams(params)).build();
  }

  private static Struct k(Value v) {
    return Struct.newBuilder().putFields("k", v).build();
  }

  private static Value nested(int depth) {
    Value v = Value.newBuilder().setNumberValue(2).build();
    for (int i = 0; i < depth; i++) {
      v = Value.newBuilder().setListValue(ListValue.newBuilder().addValues(v)).build();
    }
    return v;
  }

  private static Expect e(Status.Code code, String reason, String field) {
    return new Expect(code, reason, field);
  }

  static List<Case> cases() {
    List<Case> c = new ArrayList<>();
    Expect badShape = e(INVALID, "INVALID_TENSOR", "logits");
    Expect badData = e(INVALID, "INVALID_TENSOR", "logits.data");
    // Shapes: zero, "negative-looking" uint32 (≥ 2^31), products overflowing 32 and 64 bits.
    c.add(new Case("rows 0 with data", false, req(shape(0, 4, 16), greedy()), badData));
    c.add(new Case("rows 0 vocab 0 empty", false, req(shape(0, 0, 0), greedy()),
        e(INVALID, "INVALID_TENSOR", "logits.vocab_size")));
    c.add(new Case("rows 1 vocab 4 empty data", false, req(shape(1, 4, 0), greedy()), badData));
    c.add(new Case("rows 2^32-1 (negative as int32)", false, req(shape(-1, 4, 16), greedy()),
        e(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", "logits.rows")));
    c.add(new Case("vocab 2^32-1 (negative as int32)", false, req(shape(1, -1, 16), greedy()),
        e(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", "logits.vocab_size")));
    c.add(new Case("vocab 2^31 (open limits)", true, req(shape(1, Integer.MIN_VALUE, 16),
        greedy()), e(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", "logits.vocab_size")));
    c.add(new Case("rows 2^16 x vocab 2^16: 32-bit product overflow", true,
        req(shape(1 << 16, 1 << 16, 16), greedy()), badShape));
    c.add(new Case("rows 2^32-1 x vocab 2^32-1 (open limits)", true,
        req(shape(-1, -1, 16), greedy()),
        e(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", "logits.rows")));
    c.add(new Case("rows 2^31-1 x vocab 2^31-1", true,
        req(shape(Integer.MAX_VALUE, Integer.MAX_VALUE, 16), greedy()), badShape));
    c.add(new Case("rows 2^30 x vocab 4: byte count 2^34 wraps to 0", true,
        req(shape(1 << 30, 4, 0), greedy()), badShape));
    c.add(new Case("rows x vocab = 2^29 x 4 bytes: 32-bit byte count wraps to 0", true,
        req(shape(1 << 15, 1 << 14, 0), greedy()), badData));
    // top_logprobs and other uint32 fields at 2^32-1.
    c.add(new Case("top_logprobs 2^32-1", false,
        req(twoByFour(), SamplingParams.newBuilder().setTopLogprobs(-1).build()),
        e(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", "params[0].top_logprobs")));
    // Enormous logit_bias maps.
    SamplingParams.Builder bigOut = SamplingParams.newBuilder().setTemperature(0f);
    for (int i = 0; i < 100_000; i++) {
      bigOut.putLogitBias(i, 0.5f);
    }
    c.add(new Case("100k logit_bias entries, ids past vocab 4", false,
        req(twoByFour(), bigOut.build()), e(INVALID, "INVALID_PARAMS", null)));
    // Processor params: wrong JSON type, deeply nested, huge.
    Value nul = Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    c.add(new Case("top_k.k null", false, req(twoByFour(), withProcessor("top_k", k(nul))),
        e(INVALID, "INVALID_PARAMS", "params[0].processors[0].params.k")));
    c.add(new Case("top_k.k bool", false, req(twoByFour(), withProcessor("top_k",
        k(Value.newBuilder().setBoolValue(true).build()))),
        e(INVALID, "INVALID_PARAMS", "params[0].processors[0].params.k")));
    c.add(new Case("top_k.k list", false, req(twoByFour(), withProcessor("top_k", k(nested(1)))),
        e(INVALID, "INVALID_PARAMS", "params[0].processors[0].params.k")));
    c.add(new Case("top_k.k struct", false, req(twoByFour(), withProcessor("top_k",
        k(Value.newBuilder().setStructValue(k(nested(0))).build()))),
        e(INVALID, "INVALID_PARAMS", "params[0].processors[0].params.k")));
    c.add(new Case("top_k.k 2.5", false, req(twoByFour(), withProcessor("top_k",
        k(Value.newBuilder().setNumberValue(2.5).build()))),
        e(INVALID, "INVALID_PARAMS", "params[0].processors[0].params.k")));
    c.add(new Case("top_k.k 1e300", false, req(twoByFour(), withProcessor("top_k",
        k(Value.newBuilder().setNumberValue(1e300).build()))),
        e(INVALID, "INVALID_PARAMS", "params[0].processors[0].params.k")));
    c.add(new Case("top_k.k nested 40 lists deep", false,
        req(twoByFour(), withProcessor("top_k", k(nested(40)))),
        e(INVALID, "INVALID_PARAMS", "params[0].processors[0].params.k")));
    c.add(new Case("top_k.k a 1 MiB string", false, req(twoByFour(), withProcessor("top_k",
        k(Value.newBuilder().setStringValue("x".repeat(1 << 20)).build()))),
        e(INVALID, "INVALID_PARAMS", "params[0].processors[0].params.k")));
    Struct.Builder manyKeys = Struct.newBuilder();
    for (int i = 0; i < 10_000; i++) {
      manyKeys.putFields("p" + i, Value.newBuilder().setNumberValue(i).build());
    }
    c.add(new Case("top_k with 10k unknown params", false,
        req(twoByFour(), withProcessor("top_k", manyKeys.build())),
        e(INVALID, "INVALID_PARAMS", null)));
    // Names with odd characters.
    for (String name : List.of("", " top_k", "TOP_K", "top_k\u0000", "../top_k", "top-k",
        "t\u00f6p_k", "\ud83d\ude00", "top_k; DROP TABLE", "a".repeat(10_000))) {
      c.add(new Case("processor name '" + printable(name) + "'", false,
          req(twoByFour(), withProcessor(name, Struct.getDefaultInstance())),
          e(Status.Code.NOT_FOUND, "UNKNOWN_PROCESSOR", "params[0].processors[0].name")));
    }
    // Histories and token lists.
    c.add(new Case("history token 2^31-1", false, SampleRequest.newBuilder()
        .setLogits(twoByFour()).addParams(greedy())
        .addHistories(TokenHistory.newBuilder().addOutputTokenIds(Integer.MAX_VALUE))
        .addHistories(TokenHistory.getDefaultInstance()).build(),
        e(INVALID, "INVALID_PARAMS", "histories[0]")));
    c.add(new Case("allowed id -1", false, req(twoByFour(),
        SamplingParams.newBuilder().addAllowedTokenIds(-1).build()),
        e(INVALID, "INVALID_PARAMS", "params[0].allowed_token_ids")));
    c.add(new Case("stop id = vocab", false, req(twoByFour(),
        SamplingParams.newBuilder().addStopTokenIds(4).build()),
        e(INVALID, "INVALID_PARAMS", null)));
    // Vocabularies: none is registered on this server.
    c.add(new Case("unknown vocabulary", false, req(twoByFour(),
        SamplingParams.newBuilder().setVocabulary("llama-3").build()),
        e(Status.Code.NOT_FOUND, "UNKNOWN_VOCABULARY", "params[0].vocabulary")));
    c.add(new Case("stop_strings without a vocabulary", false, req(twoByFour(),
        SamplingParams.newBuilder().addStopStrings("\n\n").build()),
        e(INVALID, "INVALID_PARAMS", "params[0].stop_strings")));
    return c;
  }

  private static String printable(String s) {
    String t = s.length() > 20 ? s.substring(0, 8) + "...(" + s.length() + ")" : s;
    return t.replace("\u0000", "\\0");
  }

  static Stream<Arguments> rows() {
    return Stream.of("tcp", "uds").flatMap(t -> cases().stream().map(c -> Arguments.of(t, c)));
  }

  private static ManagedChannel channel(TestServer s, String transport) {
    return transport.equals("tcp") ? s.tcp : s.uds;
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void refusedWithTheExpectedCodeAndTheChannelGoesOn(String transport, Case c) {
    TestServer s = c.openLimits() ? open : server;
    ManagedChannel channel = channel(s, transport);
    StatusRuntimeException thrown = null;
    try {
      SampleResponse r = s.blocking(channel).sample(c.request());
      fail("expected " + c.expect() + " but the request succeeded: " + r.getChoicesList());
    } catch (StatusRuntimeException ex) {
      thrown = ex;
    }
    assertThat(thrown.getStatus().getCode()).as("status of %s", thrown).isEqualTo(c.expect().code());
    com.google.rpc.Status status = StatusProto.fromThrowable(thrown);
    assertThat(status).isNotNull();
    assertThat(status.getMessage().length()).as("message length").isLessThan(4096);
    assertReason(status, c.expect());
    assertGoodSample(s, channel);
  }

  static void assertReason(com.google.rpc.Status status, Expect expect) {
    String reason = null;
    String field = null;
    for (Any any : status.getDetailsList()) {
      try {
        if (any.is(ErrorInfo.class)) {
          reason = any.unpack(ErrorInfo.class).getReason();
        } else if (any.is(BadRequest.class)) {
          field = any.unpack(BadRequest.class).getFieldViolations(0).getField();
        }
      } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
        throw new AssertionError(ex);
      }
    }
    assertThat(reason).as("ErrorInfo.reason of %s", status.getMessage()).isEqualTo(expect.reason());
    if (expect.field() != null) {
      assertThat(field).as("BadRequest field of %s", status.getMessage()).startsWith(expect.field());
    }
  }

  private static void assertGoodSample(TestServer s, ManagedChannel channel) {
    SampleResponse ok = s.blocking(channel).sample(req(twoByFour(), greedy()));
    assertThat(ok.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(2, 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Row errors: row 1 of three fails with the expected code; rows 0 and 2 are sampled.

  record RowCase(String name, SampleRequest request, Expect expect) {
    @Override
    public String toString() {
      return name;
    }
  }

  static List<RowCase> rowCases() {
    float n = Float.NEGATIVE_INFINITY;
    Logits threeRows = f32(3, 4, 0f, 1f, 3f, 2f, 0f, 1f, 3f, 2f, 0f, 1f, 3f, 2f);
    SamplingParams ok = greedy();
    List<RowCase> c = new ArrayList<>();
    c.add(new RowCase("row 1 all -inf", req(f32(3, 4, 0f, 1f, 3f, 2f, n, n, n, n, 0f, 1f, 3f,
        2f), greedy()), e(Status.Code.FAILED_PRECONDITION, "NO_CANDIDATES", null)));
    c.add(new RowCase("row 1 allows only banned ids", req(threeRows, ok,
        SamplingParams.newBuilder().setTemperature(0f).addAllowedTokenIds(1)
            .addAllowedTokenIds(2).addBannedTokenIds(1).addBannedTokenIds(2).build(), ok),
        e(Status.Code.FAILED_PRECONDITION, "NO_CANDIDATES", null)));
    c.add(new RowCase("row 1 NaN", req(f32(3, 4, 0f, 1f, 3f, 2f, 0f, Float.NaN, 3f, 2f, 0f, 1f,
        3f, 2f), greedy()), NAN_OR_PLUS_INF_ROW));
    return c;
  }

  static Stream<Arguments> rowRows() {
    return Stream.of("tcp", "uds").flatMap(t -> rowCases().stream().map(c -> Arguments.of(t, c)));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rowRows")
  void rowErrorFailsOnlyItsRow(String transport, RowCase c) {
    ManagedChannel channel = channel(server, transport);
    SampleResponse r = server.blocking(channel).sample(c.request());
    assertThat(r.getChoicesCount()).isEqualTo(3);
    assertThat(r.getChoices(0).hasError()).isFalse();
    assertThat(r.getChoices(0).getTokenId()).isEqualTo(2);
    assertThat(r.getChoices(2).hasError()).isFalse();
    assertThat(r.getChoices(2).getTokenId()).isEqualTo(2);
    TokenChoice failed = r.getChoices(1);
    assertThat(failed.getTokenId()).isEqualTo(-1);
    assertThat(failed.getError().getCode()).as(failed.getError().getMessage())
        .isEqualTo(c.expect().code().value());
    assertReason(failed.getError(), c.expect());
    assertGoodSample(server, channel);
  }

  /**
   * Every expectation of this matrix: the Sample, step and row cases and the row errors checked
   * by the tests below. {@link ErrorsDocMatrixTest} holds {@code docs/errors.md} to it.
   */
  static List<Expect> expectations() {
    List<Expect> all = new ArrayList<>();
    cases().forEach(c -> all.add(c.expect()));
    stepCases().forEach(c -> all.add(c.expect()));
    rowCases().forEach(c -> all.add(c.expect()));
    all.add(NAN_OR_PLUS_INF_ROW);
    all.add(HISTORY_OUTSIDE_VOCABULARY_ROW);
    all.add(VOCABULARY_NAME_TAKEN);
    return all;
  }

  // ---------------------------------------------------------------------------------------------
  // NaN and ±Inf in every position class: first, middle, last element of a row.

  static Stream<Arguments> positions() {
    List<Arguments> out = new ArrayList<>();
    for (String t : List.of("tcp", "uds")) {
      for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
        for (int pos : new int[] {0, 3, 7}) {
          out.add(Arguments.of(t, bad, pos));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}: {1} at {2}")
  @MethodSource("positions")
  void nanOrPlusInfFailsOnlyItsRowWherever(String transport, float bad, int pos) {
    ManagedChannel channel = channel(server, transport);
    float[] v = new float[3 * 8];
    for (int i = 0; i < v.length; i++) {
      v[i] = (i % 8) == 5 ? 4f : 0f;
    }
    v[8 + pos] = bad; // row 1
    SampleResponse r = server.blocking(channel).sample(req(f32(3, 8, v), greedy()));
    assertThat(r.getChoices(0).getTokenId()).isEqualTo(5);
    assertThat(r.getChoices(2).getTokenId()).isEqualTo(5);
    TokenChoice failed = r.getChoices(1);
    assertThat(failed.getTokenId()).isEqualTo(-1);
    assertThat(failed.getError().getCode()).isEqualTo(INVALID.value());
    assertThat(failed.getError().getMessage()).contains("row 1", "token " + pos);
    assertReason(failed.getError(), NAN_OR_PLUS_INF_ROW);
    assertGoodSample(server, channel);
  }

  @ParameterizedTest(name = "{0}: -inf at {1}")
  @MethodSource("positions")
  void negativeInfinityIsAMaskedTokenWherever(String transport, float ignored, int pos) {
    float[] v = {1f, 0f, 0f, 0f, 0f, 0f, 0f, 2f};
    v[pos] = Float.NEGATIVE_INFINITY;
    int expected = pos == 7 ? 0 : 7;
    SampleResponse r = server.blocking(channel(server, transport)).sample(req(f32(1, 8, v),
        SamplingParams.newBuilder().setTemperature(0f).setTopLogprobs(8).build()));
    assertThat(r.getChoices(0).hasError()).isFalse();
    assertThat(r.getChoices(0).getTokenId()).isEqualTo(expected);
    assertThat(r.getChoices(0).getTopLogprobsList()).hasSize(7); // the masked token is not listed
  }

  // ---------------------------------------------------------------------------------------------
  // Session fields.

  record StepCase(String name, SessionRequest step, Expect expect) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static Sequence seq(long id) {
    return Sequence.newBuilder().setId(id).setParams(greedy()).build();
  }

  private static Logits rows(int n) {
    float[] v = new float[n * 6];
    for (int r = 0; r < n; r++) {
      v[r * 6 + 3] = 5f;
    }
    return f32(n, 6, v);
  }

  static List<StepCase> stepCases() {
    List<StepCase> c = new ArrayList<>();
    c.add(new StepCase("duplicate ids in added (3 copies)",
        SessionRequest.newBuilder().setStepId(2).addAdded(seq(50)).addAdded(seq(51))
            .addAdded(seq(50)).build(),
        e(Status.Code.ALREADY_EXISTS, "DUPLICATE_SEQUENCE", "added[2].id")));
    c.add(new StepCase("duplicate ids in removed",
        SessionRequest.newBuilder().setStepId(2).addRemoved(2).addRemoved(2).build(),
        e(Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE", "removed[1]")));
    c.add(new StepCase("duplicate ids in the row map (rows 0 and 2)",
        SessionRequest.newBuilder().setStepId(2).addRowSequenceIds(1).addRowSequenceIds(2)
            .addRowSequenceIds(1).setLogits(rows(3)).build(),
        e(INVALID, "INVALID_PARAMS", "row_sequence_ids[2]")));
    c.add(new StepCase("row map with ids but no logits",
        SessionRequest.newBuilder().setStepId(2).addRowSequenceIds(1).build(),
        e(INVALID, "INVALID_TENSOR", "row_sequence_ids")));
    c.add(new StepCase("negative appended token",
        SessionRequest.newBuilder().setStepId(2).addAppended(SequenceTokens.newBuilder()
            .setSequenceId(1).addTokenIds(-5)).build(),
        e(INVALID, "INVALID_PARAMS", "appended[0].token_ids")));
    c.add(new StepCase("sequence id 2^64-1 unknown in the row map",
        SessionRequest.newBuilder().setStepId(2).addRowSequenceIds(-1L).setLogits(rows(1))
            .build(),
        e(Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE", "row_sequence_ids[0]")));
    SessionRequest.Builder many = SessionRequest.newBuilder().setStepId(2);
    for (int i = 0; i < 5000; i++) {
      many.addAdded(seq(1000 + i));
    }
    c.add(new StepCase("5000 sequences over max_sequences_per_session",
        many.build(), e(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", "added")));
    c.add(new StepCase("empty tensor: rows 0, vocab 6, no data, one row id",
        SessionRequest.newBuilder().setStepId(2).addRowSequenceIds(1)
            .setLogits(Logits.newBuilder().setDtype(DType.DTYPE_FLOAT32).setRows(0)
                .setVocabSize(6)).build(),
        e(INVALID, "INVALID_TENSOR", "row_sequence_ids")));
    c.add(new StepCase("added with a 1 MiB processor name",
        SessionRequest.newBuilder().setStepId(2).addAdded(Sequence.newBuilder().setId(60)
            .setParams(withProcessor("z".repeat(1 << 20), Struct.getDefaultInstance())))
            .build(),
        e(Status.Code.NOT_FOUND, "UNKNOWN_PROCESSOR", "added[0].params.processors[0].name")));
    return c;
  }

  static Stream<Arguments> stepRows() {
    return Stream.of("tcp", "uds").flatMap(t -> stepCases().stream().map(c -> Arguments.of(t, c)));
  }

  /** Registers 1 and 2, samples them; then the bad step; then 1 and 2 must still sample. */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("stepRows")
  void badStepIsAnsweredAndTheSameSessionGoesOn(String transport, StepCase c) throws Exception {
    try (TestServer.SessionClient session = server.session(channel(server, transport))) {
      SessionResponse first = session.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(seq(1)).addAdded(seq(2)).addRowSequenceIds(1).addRowSequenceIds(2)
          .setLogits(rows(2)).build());
      assertThat(first.hasError()).isFalse();
      SessionResponse bad = session.step(c.step());
      assertThat(bad.getStepId()).isEqualTo(2);
      assertThat(bad.hasError()).as("step error of %s", bad.getChoicesList()).isTrue();
      assertThat(bad.getChoicesList()).isEmpty();
      assertThat(bad.getError().getCode()).as(bad.getError().getMessage())
          .isEqualTo(c.expect().code().value());
      assertThat(bad.getError().getMessage().length()).isLessThan(4096);
      assertReason(bad.getError(), c.expect());
      SessionResponse ok = session.step(SessionRequest.newBuilder().setStepId(3)
          .addRowSequenceIds(2).addRowSequenceIds(1).setLogits(rows(2)).build());
      assertThat(ok.hasError()).isFalse();
      assertThat(ok.getChoicesList()).extracting(TokenChoice::getTokenId).containsExactly(3, 3);
      assertThat(session.finish()).isEqualTo("completed");
    }
  }

  /** Bug (b): a sequence history token outside the vocabulary names the row's sequence. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("transportsOnly")
  void appendedTokenOutsideTheVocabularyFailsTheRowOnItsSequence(String transport)
      throws Exception {
    try (TestServer.SessionClient session = server.session(channel(server, transport))) {
      session.step(SessionRequest.newBuilder().setStepId(1).addAdded(seq(1)).addAdded(seq(7))
          .build());
      SessionResponse r = session.step(SessionRequest.newBuilder().setStepId(2)
          .addAppended(SequenceTokens.newBuilder().setSequenceId(7).addTokenIds(600))
          .addRowSequenceIds(1).addRowSequenceIds(7).setLogits(rows(2)).build());
      assertThat(r.hasError()).isFalse();
      assertThat(r.getChoices(0).getTokenId()).isEqualTo(3);
      TokenChoice failed = r.getChoices(1);
      assertThat(failed.getTokenId()).isEqualTo(-1);
      assertThat(failed.getError().getMessage()).contains("row_sequence_ids[1]", "sequence 7",
          "600");
      assertReason(failed.getError(), HISTORY_OUTSIDE_VOCABULARY_ROW);
      SessionResponse ok = session.step(SessionRequest.newBuilder().setStepId(3)
          .addRowSequenceIds(1).setLogits(rows(1)).build());
      assertThat(ok.getChoices(0).getTokenId()).isEqualTo(3);
    }
  }

  static Stream<String> transportsOnly() {
    return Stream.of("tcp", "uds");
  }
}
