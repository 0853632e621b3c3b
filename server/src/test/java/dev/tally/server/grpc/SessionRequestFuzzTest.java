package dev.tally.server.grpc;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.ProcessorSpec;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SequenceTokens;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.session.SessionState;
import dev.tally.server.exec.SamplerPool;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;

/**
 * Jazzer fuzz target for a session's request decoding and validation: a stream of requests, each
 * either raw fuzzer bytes parsed as a {@code SessionRequest} or one built field by field from the
 * fuzzer's choices (ids, params, processor specs with arbitrary JSON, tensors of any dtype and
 * shape, any bytes). Checked: exactly one response per request, in order, with the request's
 * step id; a step error has no choices and is never {@code INTERNAL}; a choice is a token in
 * range or {@code -1} with an error; nothing throws out of {@link SessionCall}.
 *
 * <p>{@code ./mvnw verify} fuzzes it for its {@code maxDuration} (the {@code fuzz-session-request}
 * execution); with {@code -Dtest} it runs the stored inputs only. Campaigns: {@code
 * docs/fuzzing.md}.
 */
final class SessionRequestFuzzTest {
  private static final ChainCompiler COMPILER = new ChainCompiler(
      ProcessorRegistry.fromServiceLoader(SessionRequestFuzzTest.class.getClassLoader()), 20);
  private static final SamplerPool POOL = new SamplerPool(2);
  private static final String[] NAMES = {"top_k", "top_p", "min_p", "temperature", "xtc",
      "greedy", "sample", "mirostat", "dry", "typical_p", "nope", ""};

  @AfterAll
  static void closePool() {
    POOL.close();
  }

  @FuzzTest(maxDuration = "20s")
  void session(FuzzedDataProvider data) throws Exception {
    SessionState state = new SessionState(COMPILER, 16, () -> 42L);
    SessionCallAtomicityTest.Out out = new SessionCallAtomicityTest.Out();
    SessionCall call = new SessionCall(out, state, POOL, new StepLimits(8, 4096, 8 * 4096),
        new SessionTracker(), new dev.tally.server.shm.SharedMemory(
            dev.tally.server.shm.SharedMemoryConfig.defaults()).newTable(null), null,
            new RequestBuffers());
    call.start();
    int steps = data.consumeInt(1, 6);
    for (int s = 0; s < steps; s++) {
      SessionRequest request;
      if (data.consumeBoolean()) {
        try {
          request = SessionRequest.parseFrom(data.consumeBytes(data.consumeInt(0, 512)));
        } catch (InvalidProtocolBufferException e) {
          continue; // gRPC refuses what does not parse, before Tally sees it
        }
      } else {
        request = build(data);
      }
      request = request.toBuilder().setStepId(1000 + s).build();
      call.onNext(request);
      SessionResponse r = out.next();
      if (r.getStepId() != 1000 + s) {
        throw new AssertionError("response for step " + r.getStepId() + ", expected " + (1000 + s));
      }
      if (r.hasError()) {
        if (r.getChoicesCount() != 0 || r.getError().getCode() == io.grpc.Status.Code.INTERNAL
            .value()) {
          throw new AssertionError("bad step error: " + r);
        }
        continue;
      }
      int vocab = request.hasLogits() ? request.getLogits().getVocabSize() : 0;
      if (r.getChoicesCount() != request.getRowSequenceIdsCount()) {
        throw new AssertionError(r.getChoicesCount() + " choices for "
            + request.getRowSequenceIdsCount() + " rows");
      }
      for (TokenChoice c : r.getChoicesList()) {
        boolean ok = c.hasError() ? c.getTokenId() == -1
            : c.getTokenId() >= 0 && c.getTokenId() < vocab;
        if (!ok) {
          throw new AssertionError("bad choice " + c);
        }
      }
      if (out.responses.size() != 0) {
        throw new AssertionError("more than one response for a request");
      }
    }
    if (state.size() > 16) {
      throw new AssertionError("session holds " + state.size() + " sequences");
    }
    call.onCompleted();
  }

  private static SessionRequest build(FuzzedDataProvider data) {
    SessionRequest.Builder b = SessionRequest.newBuilder();
    int added = data.consumeInt(0, 3);
    for (int i = 0; i < added; i++) {
      Sequence.Builder seq = Sequence.newBuilder().setId(data.consumeLong(0, 5))
          .setParams(params(data));
      for (int t : data.consumeInts(4)) {
        seq.addPromptTokenIds(t % 70);
      }
      b.addAdded(seq);
    }
    for (int i = data.consumeInt(0, 2); i > 0; i--) {
      b.addRemoved(data.consumeLong(0, 5));
    }
    if (data.consumeBoolean()) {
      SequenceTokens.Builder t = SequenceTokens.newBuilder().setSequenceId(data.consumeLong(0, 5));
      for (int id : data.consumeInts(3)) {
        t.addTokenIds(id % 80);
      }
      b.addAppended(t);
    }
    int rows = data.consumeInt(0, 4);
    for (int i = 0; i < rows; i++) {
      b.addRowSequenceIds(data.consumeLong(0, 5));
    }
    if (rows > 0 || data.consumeBoolean()) {
      DType dtype = data.pickValue(new DType[] {DType.DTYPE_FLOAT32, DType.DTYPE_FLOAT16,
          DType.DTYPE_BFLOAT16, DType.DTYPE_UNSPECIFIED});
      int vocab = data.consumeInt(0, 70);
      int size = dtype == DType.DTYPE_FLOAT32 ? 4 : 2;
      int logitRows = data.consumeBoolean() ? rows : data.consumeInt(0, 9);
      int bytes = logitRows * vocab * size + (data.consumeBoolean() ? 0 : data.consumeInt(-2, 2));
      byte[] raw = data.consumeBytes(Math.max(0, bytes));
      byte[] padded = java.util.Arrays.copyOf(raw, Math.max(0, bytes));
      b.setLogits(Logits.newBuilder().setDtype(dtype).setRows(logitRows).setVocabSize(vocab)
          .setData(ByteString.copyFrom(padded)));
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
      p.putLogitBias(data.consumeInt(-2, 80), data.consumeFloat());
    }
    if (data.consumeBoolean()) {
      p.setTopLogprobs(data.consumeInt(0, 25));
    }
    if (data.consumeBoolean()) {
      p.setSeed(data.consumeLong());
    }
    if (data.consumeBoolean()) {
      p.setRepetitionPenalty(data.consumeFloat()).setPenaltyLastN(data.consumeInt(-2, 10));
    }
    List<ProcessorSpec> specs = new ArrayList<>();
    for (int i = data.consumeInt(0, 2); i > 0; i--) {
      Struct.Builder s = Struct.newBuilder();
      for (int j = data.consumeInt(0, 2); j > 0; j--) {
        Value v = switch (data.consumeInt(0, 3)) {
          case 0 -> Value.newBuilder().setNumberValue(data.consumeDouble()).build();
          case 1 -> Value.newBuilder().setStringValue(data.consumeString(6)).build();
          case 2 -> Value.newBuilder().setBoolValue(data.consumeBoolean()).build();
          default -> Value.newBuilder().setNumberValue(data.consumeInt(-3, 50)).build();
        };
        s.putFields(data.pickValue(new String[] {"k", "p", "temperature", "min_p", "tau",
            "threshold", "probability", "multiplier"}), v);
      }
      specs.add(ProcessorSpec.newBuilder().setName(data.pickValue(NAMES)).setParams(s).build());
    }
    if (data.consumeBoolean()) {
      p.addAllPipeline(specs);
    } else {
      p.addAllProcessors(specs);
    }
    return p.build();
  }
}
