package dev.tally.server.grpc;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.ErrorInfo;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.ProcessorSpec;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.TokenHistory;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.exec.SamplerPool;
import dev.tally.server.metrics.TallyMetrics;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;

/**
 * Jazzer fuzz target for the unary {@code Sample} RPC through {@link SamplerService}: decoding,
 * limits, validation, chain compilation and the engine. The request is either raw fuzzer bytes
 * parsed as a {@code SampleRequest} or built field by field (params per row or shared, processor
 * specs with arbitrary JSON, histories, tensors of any dtype, shape and bytes). Checked: the call
 * ends exactly once; an RPC error is one of the documented validation errors ({@code
 * INVALID_TENSOR}, {@code INVALID_PARAMS}, {@code UNKNOWN_PROCESSOR}, {@code LIMIT_EXCEEDED}) with
 * its documented gRPC status; a response has one choice per row, each a token in range or {@code
 * -1} with a documented, non-{@code INTERNAL} row error whose status matches its code.
 *
 * <p>{@code ./mvnw verify} fuzzes it for a bounded time (the {@code fuzz} surefire execution);
 * longer campaigns: {@code docs/fuzzing.md}.
 */
final class SampleRequestFuzzTest {
  private static final SamplerPool POOL = new SamplerPool(2);
  private static final SamplerService SERVICE = new SamplerService(
      ServerConfig.defaults().withLimits(8, 4096, 1 << 20, 20, 16),
      ProcessorRegistry.fromServiceLoader(SampleRequestFuzzTest.class.getClassLoader()), POOL,
      new SessionTracker(), new ServerInfoSource(), TallyMetrics.noop(),
      new dev.tally.server.shm.SharedMemory(dev.tally.server.shm.SharedMemoryConfig.defaults()),
      dev.tally.core.vocab.VocabularyRegistry.none());
  /** What a whole request may be refused with (docs/errors.md, scope "request"). */
  private static final Set<ErrorCode> REQUEST_ERRORS = EnumSet.of(ErrorCode.INVALID_TENSOR,
      ErrorCode.INVALID_PARAMS, ErrorCode.UNKNOWN_PROCESSOR, ErrorCode.LIMIT_EXCEEDED,
      ErrorCode.UNKNOWN_VOCABULARY);
  private static final String[] NAMES = {"top_k", "top_p", "min_p", "temperature", "xtc",
      "greedy", "sample", "typical_p", "top_n_sigma", "logit_bias", "repetition_penalty",
      "no_repeat_ngram", "nope", ""};
  private static final String[] KEYS = {"k", "p", "temperature", "min_p", "threshold",
      "probability", "n", "multiplier", "x"};

  @AfterAll
  static void closePool() {
    POOL.close();
  }

  /** The one way the call ended: a response then completion, or an error. */
  private static final class Ending implements StreamObserver<SampleResponse> {
    final CompletableFuture<Object> done = new CompletableFuture<>();
    private SampleResponse response;

    @Override
    public void onNext(SampleResponse r) {
      if (response != null || done.isDone()) {
        done.obtrudeValue(new AssertionError("a second response or a response after the end"));
      }
      response = r;
    }

    @Override
    public void onError(Throwable t) {
      if (!done.complete(t)) {
        done.obtrudeValue(new AssertionError("ended twice"));
      }
    }

    @Override
    public void onCompleted() {
      Object end = response != null ? response : new AssertionError("completed without a response");
      if (!done.complete(end)) {
        done.obtrudeValue(new AssertionError("ended twice"));
      }
    }
  }

  @FuzzTest(maxDuration = "20s")
  void sample(FuzzedDataProvider data) throws Exception {
    SampleRequest request;
    if (data.consumeBoolean()) {
      try {
        request = SampleRequest.parseFrom(data.consumeBytes(data.consumeInt(0, 1024)));
      } catch (InvalidProtocolBufferException e) {
        return; // gRPC refuses what does not parse, before Tally sees it
      }
    } else {
      request = build(data);
    }
    Ending ending = new Ending();
    SERVICE.sample(request, ending);
    Object end = ending.done.get(30, TimeUnit.SECONDS);
    if (end instanceof AssertionError e) {
      throw e;
    }
    if (end instanceof Throwable t) {
      checkRequestError(t);
      return;
    }
    SampleResponse r = (SampleResponse) end;
    int rows = request.getLogits().getRows();
    int vocab = request.getLogits().getVocabSize();
    if (r.getChoicesCount() != rows) {
      throw new AssertionError(r.getChoicesCount() + " choices for " + rows + " rows");
    }
    for (TokenChoice c : r.getChoicesList()) {
      if (c.hasError()) {
        ErrorCode code = checkStatus(c.getError());
        if (c.getTokenId() != -1 || code == ErrorCode.INTERNAL) {
          throw new AssertionError("bad row error " + c);
        }
      } else if (c.getTokenId() < 0 || c.getTokenId() >= vocab || Float.isNaN(c.getLogprob())
          || c.getTopLogprobsCount() > 20) {
        throw new AssertionError("bad choice " + c);
      }
    }
  }

  private static void checkRequestError(Throwable t) {
    com.google.rpc.Status status = StatusProto.fromThrowable(t);
    if (status == null) {
      throw new AssertionError("an error without a status", t);
    }
    ErrorCode code = checkStatus(status);
    if (!REQUEST_ERRORS.contains(code)) {
      throw new AssertionError("undocumented request error " + code + ": " + status.getMessage(), t);
    }
  }

  /** The Tally code in {@code ErrorInfo.reason}; the gRPC status must be the code's own. */
  private static ErrorCode checkStatus(com.google.rpc.Status status) {
    ErrorCode code = null;
    for (Any any : status.getDetailsList()) {
      if (any.is(ErrorInfo.class)) {
        try {
          code = ErrorCode.valueOf(any.unpack(ErrorInfo.class).getReason());
        } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
          throw new AssertionError("bad ErrorInfo in " + status, e);
        }
      }
    }
    if (code == null) {
      throw new AssertionError("no ErrorInfo in " + status);
    }
    if (Status.fromCodeValue(status.getCode()).getCode().name()
        .equals(code.canonical().name())) {
      return code;
    }
    throw new AssertionError(code + " under status " + status.getCode());
  }

  private static SampleRequest build(FuzzedDataProvider data) {
    SampleRequest.Builder b = SampleRequest.newBuilder();
    int rows = data.consumeInt(0, 9);
    for (int i = data.consumeBoolean() ? 1 : data.consumeInt(0, 9); i > 0; i--) {
      b.addParams(params(data));
    }
    if (data.consumeBoolean()) {
      for (int i = data.consumeBoolean() ? rows : data.consumeInt(0, 9); i > 0; i--) {
        TokenHistory.Builder h = TokenHistory.newBuilder();
        for (int t : data.consumeInts(4)) {
          h.addPromptTokenIds(t % 80);
        }
        for (int t : data.consumeInts(4)) {
          h.addOutputTokenIds(t % 80);
        }
        b.addHistories(h);
      }
    }
    if (data.consumeInt(0, 9) > 0) {
      DType dtype = data.pickValue(new DType[] {DType.DTYPE_FLOAT32, DType.DTYPE_FLOAT16,
          DType.DTYPE_BFLOAT16, DType.DTYPE_UNSPECIFIED});
      int vocab = data.consumeBoolean() ? data.consumeInt(0, 70) : data.consumeInt();
      int logitRows = data.consumeBoolean() ? rows : data.consumeInt();
      int size = dtype == DType.DTYPE_FLOAT32 ? 4 : 2;
      // At most 4 KiB of data whatever the shape says (clamped before multiplying: no overflow).
      int want = Math.min(4096, Math.min(4096, Math.max(0, logitRows))
          * Math.min(4096, Math.max(0, vocab)) * size);
      int bytes = want + (data.consumeBoolean() ? 0 : data.consumeInt(-2, 2));
      byte[] raw = data.consumeBytes(Math.max(0, bytes));
      b.setLogits(Logits.newBuilder().setDtype(dtype).setRows(logitRows).setVocabSize(vocab)
          .setData(ByteString.copyFrom(java.util.Arrays.copyOf(raw, Math.max(0, bytes)))));
    }
    return b.build();
  }

  private static SamplingParams params(FuzzedDataProvider data) {
    SamplingParams.Builder p = SamplingParams.newBuilder();
    if (data.consumeBoolean()) {
      p.setTemperature(data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      p.setTopK(data.consumeInt());
    }
    if (data.consumeBoolean()) {
      p.setTopP(data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      p.setMinP(data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      p.putLogitBias(data.consumeInt(-2, 80), data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      p.setTopLogprobs(data.consumeInt(-1, 25));
    }
    if (data.consumeBoolean()) {
      p.setSeed(data.consumeLong());
    }
    if (data.consumeBoolean()) {
      p.setRepetitionPenalty(data.consumeFloat()).setPenaltyLastN(data.consumeInt(-2, 10));
    }
    if (data.consumeBoolean()) {
      p.setPresencePenalty(data.consumeFloat()).setFrequencyPenalty(data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      p.addAllowedTokenIds(data.consumeInt(-1, 80));
    }
    if (data.consumeBoolean()) {
      p.addBannedTokenIds(data.consumeInt(-1, 80));
    }
    for (int i = data.consumeInt(0, 2); i > 0; i--) {
      Struct.Builder s = Struct.newBuilder();
      for (int j = data.consumeInt(0, 2); j > 0; j--) {
        Value v = switch (data.consumeInt(0, 3)) {
          case 0 -> Value.newBuilder().setNumberValue(data.consumeDouble()).build();
          case 1 -> Value.newBuilder().setStringValue(data.consumeString(6)).build();
          case 2 -> Value.newBuilder().setBoolValue(data.consumeBoolean()).build();
          default -> Value.newBuilder().setNumberValue(data.consumeInt(-3, 50)).build();
        };
        s.putFields(data.pickValue(KEYS), v);
      }
      ProcessorSpec spec = ProcessorSpec.newBuilder().setName(data.pickValue(NAMES)).setParams(s)
          .build();
      if (data.consumeBoolean()) {
        p.addPipeline(spec);
      } else {
        p.addProcessors(spec);
      }
    }
    return p.build();
  }
}
