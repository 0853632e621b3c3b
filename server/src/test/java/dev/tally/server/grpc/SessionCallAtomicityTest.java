package dev.tally.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.rpc.ErrorInfo;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SequenceTokens;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.core.pipeline.ChainCompiler;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.session.SessionState;
import dev.tally.server.exec.SamplerPool;
import io.grpc.stub.ServerCallStreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Issue 8 bugs (a) and (b), at the SessionCall level: a step that fails as a whole after its
 * registry changes were applied keeps none of them; a history token outside the vocabulary is
 * reported on {@code row_sequence_ids[i]}, not on the Sample-only {@code histories}.
 */
final class SessionCallAtomicityTest {
  private static final ChainCompiler COMPILER = new ChainCompiler(
      ProcessorRegistry.fromServiceLoader(SessionCallAtomicityTest.class.getClassLoader()), 20);

  /** Collects responses; asks for nothing by itself (SessionCall drives flow control). */
  static final class Out extends ServerCallStreamObserver<SessionResponse> {
    final BlockingQueue<SessionResponse> responses = new LinkedBlockingQueue<>();
    volatile boolean completed;
    volatile Throwable error;
    volatile int requested;

    @Override public boolean isCancelled() { return false; }
    @Override public void setOnCancelHandler(Runnable r) {}
    @Override public void setCompression(String c) {}
    volatile boolean ready = true;
    volatile Runnable onReady;

    @Override public boolean isReady() { return ready; }
    @Override public void setOnReadyHandler(Runnable r) { onReady = r; }
    @Override public void disableAutoInboundFlowControl() {}
    @Override public void disableAutoRequest() {}
    @Override public void request(int n) { requested += n; }
    @Override public void setMessageCompression(boolean e) {}
    @Override public void onNext(SessionResponse v) { responses.add(v); }
    @Override public void onError(Throwable t) { error = t; }
    @Override public void onCompleted() { completed = true; }

    SessionResponse next() throws InterruptedException {
      SessionResponse r = responses.poll(10, TimeUnit.SECONDS);
      assertThat(r).as("a response").isNotNull();
      return r;
    }
  }

  private static Logits logits(int rows, int vocab) {
    ByteBuffer b = ByteBuffer.allocate(rows * vocab * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < rows * vocab; i++) {
      b.putFloat((i % vocab) * 0.25f);
    }
    return Logits.newBuilder().setDtype(DType.DTYPE_FLOAT32).setRows(rows).setVocabSize(vocab)
        .setData(ByteString.copyFrom(b.array())).build();
  }

  private static Sequence seq(long id, int... prompt) {
    Sequence.Builder s = Sequence.newBuilder().setId(id)
        .setParams(SamplingParams.newBuilder().setSeed(id).setTemperature(0.8f));
    for (int t : prompt) {
      s.addPromptTokenIds(t);
    }
    return s.build();
  }

  private static String reason(com.google.rpc.Status status) throws Exception {
    for (com.google.protobuf.Any a : status.getDetailsList()) {
      if (a.is(ErrorInfo.class)) {
        return a.unpack(ErrorInfo.class).getReason();
      }
    }
    return null;
  }

  @Test
  void aStepTheSamplerPoolRefusesLeavesTheRegistryAsItWas() throws Exception {
    SessionState state = new SessionState(COMPILER, 8, () -> 7L);
    SamplerPool pool = new SamplerPool(1);
    Out out = new Out();
    SessionCall call = new SessionCall(out, state, pool, new StepLimits(64, 1 << 20, 64L << 20),
        new SessionTracker(), new dev.tally.server.shm.SharedMemory(
            dev.tally.server.shm.SharedMemoryConfig.defaults()).newTable(null), null,
            new RequestBuffers());
    call.start();
    // Step 1 succeeds: sequences 1 and 2 registered, one token sampled for 1.
    call.onNext(SessionRequest.newBuilder().setStepId(1).addAdded(seq(1, 3)).addAdded(seq(2, 4))
        .addRowSequenceIds(1).setLogits(logits(1, 16)).build());
    SessionResponse first = out.next();
    assertThat(first.hasError()).isFalse();
    assertThat(state.get(1).history().length()).isEqualTo(2);

    pool.close(); // every later step is refused as a whole
    call.onNext(SessionRequest.newBuilder().setStepId(2).addAdded(seq(3, 5)).addRemoved(2)
        .addAppended(SequenceTokens.newBuilder().setSequenceId(1).addTokenIds(9).addTokenIds(10))
        .addRowSequenceIds(1).addRowSequenceIds(3).setLogits(logits(2, 16)).build());
    SessionResponse second = out.next();
    assertThat(second.getStepId()).isEqualTo(2);
    assertThat(second.hasError()).isTrue();
    assertThat(second.getChoicesCount()).isZero();
    assertThat(reason(second.getError())).isEqualTo("INTERNAL");

    // No registry change happened: 3 is not registered, 2 still is, 1 has no appended tokens.
    assertThat(state.size()).isEqualTo(2);
    assertThat(state.get(3)).isNull();
    assertThat(state.get(2)).isNotNull();
    assertThat(state.get(1).history().length()).isEqualTo(2);
    assertThat(state.get(1).history().maxTokenId()).isLessThan(16);
  }

  @Test
  void rollbackThenTheSameStepSucceedsAsIfTheFailedOneNeverHappened() throws Exception {
    SessionState state = new SessionState(COMPILER, 8, () -> 7L);
    SessionState.Step failed = state.begin(java.util.List.of(), new long[0], java.util.List.of(),
        new long[0], 0);
    failed.rollback(); // empty step: harmless
    // Register 1, then a step adding 2, removing 1, appending to 2 → rolled back.
    state.apply(java.util.List.of(new dev.tally.core.session.SequenceSpec(1,
        new dev.tally.core.pipeline.SamplingConfig(), new int[] {1, 2}, new int[] {3})),
        new long[0], java.util.List.of(), new long[0], 0);
    SessionState.Step step = state.begin(
        java.util.List.of(new dev.tally.core.session.SequenceSpec(2,
            new dev.tally.core.pipeline.SamplingConfig(), new int[] {1}, new int[0])),
        new long[] {1},
        java.util.List.of(new dev.tally.core.session.AppendedTokens(2, new int[] {40, 41})),
        new long[] {2}, 1);
    assertThat(state.get(1)).isNull();
    assertThat(state.get(2).history().length()).isEqualTo(3);
    step.rollback();
    assertThat(state.get(2)).isNull();
    assertThat(state.get(1).history().length()).isEqualTo(3);
    assertThat(state.get(1).history().maxTokenId()).isEqualTo(3);
    // The same step again is accepted (2 is not a duplicate, 1 is known).
    state.apply(java.util.List.of(new dev.tally.core.session.SequenceSpec(2,
        new dev.tally.core.pipeline.SamplingConfig(), new int[] {1}, new int[0])),
        new long[] {1}, java.util.List.of(), new long[] {2}, 1);
    assertThat(state.size()).isEqualTo(1);
  }

  @Test
  void aClientThatStopsReadingIsHeldByFlowControl() throws Exception {
    SessionState state = new SessionState(COMPILER, 8, () -> 7L);
    try (SamplerPool pool = new SamplerPool(1)) {
      Out out = new Out();
      SessionCall call = new SessionCall(out, state, pool, new StepLimits(64, 1 << 20, 64L << 20),
          new SessionTracker(), new dev.tally.server.shm.SharedMemory(
            dev.tally.server.shm.SharedMemoryConfig.defaults()).newTable(null), null,
            new RequestBuffers());
      call.start();
      assertThat(out.requested).isEqualTo(1);
      out.ready = false; // the client's window is full: it is not reading
      call.onNext(SessionRequest.newBuilder().setStepId(1).addAdded(seq(1, 3))
          .addRowSequenceIds(1).setLogits(logits(1, 16)).build());
      assertThat(out.next().getStepId()).isEqualTo(1);
      Thread.sleep(50);
      assertThat(out.requested).as("no next step asked for while not ready").isEqualTo(1);
      out.ready = true;
      out.onReady.run();
      assertThat(out.requested).isEqualTo(2);
      out.onReady.run(); // a spurious ready asks for nothing more
      assertThat(out.requested).isEqualTo(2);
    }
  }

  @Test
  void aHistoryTokenOutsideTheVocabularyNamesTheRowSequenceIdNotHistories() throws Exception {
    SessionState state = new SessionState(COMPILER, 8, () -> 7L);
    try (SamplerPool pool = new SamplerPool(2)) {
      Out out = new Out();
      SessionCall call = new SessionCall(out, state, pool, new StepLimits(64, 1 << 20, 64L << 20),
          new SessionTracker(), new dev.tally.server.shm.SharedMemory(
            dev.tally.server.shm.SharedMemoryConfig.defaults()).newTable(null), null,
            new RequestBuffers());
      call.start();
      // Sequence 42's prompt holds token 500; the step's vocabulary is 16. Row 1 is fine.
      call.onNext(SessionRequest.newBuilder().setStepId(1).addAdded(seq(5, 1))
          .addAdded(seq(42, 1, 500)).addRowSequenceIds(5).addRowSequenceIds(42)
          .setLogits(logits(2, 16)).build());
      SessionResponse r = out.next();
      assertThat(r.hasError()).isFalse();
      assertThat(r.getChoices(0).hasError()).isFalse();
      com.google.rpc.Status rowError = r.getChoices(1).getError();
      assertThat(r.getChoices(1).getTokenId()).isEqualTo(-1);
      assertThat(reason(rowError)).isEqualTo("INVALID_PARAMS");
      assertThat(rowError.getMessage()).contains("row_sequence_ids[1]").contains("sequence 42")
          .contains("500");
      com.google.rpc.BadRequest bad = null;
      for (com.google.protobuf.Any a : rowError.getDetailsList()) {
        if (a.is(com.google.rpc.BadRequest.class)) {
          bad = a.unpack(com.google.rpc.BadRequest.class);
        }
      }
      assertThat(bad).isNotNull();
      assertThat(bad.getFieldViolations(0).getField()).isEqualTo("row_sequence_ids[1]");
      // The session keeps serving, and the good sequence goes on.
      call.onNext(SessionRequest.newBuilder().setStepId(2).addRowSequenceIds(5)
          .setLogits(logits(1, 16)).build());
      SessionResponse next = out.next();
      assertThat(next.hasError()).isFalse();
      assertThat(next.getChoices(0).hasError()).isFalse();
      assertThat(state.get(5).history().length()).isEqualTo(3);
    }
  }
}
