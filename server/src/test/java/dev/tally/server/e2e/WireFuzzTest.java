package dev.tally.server.e2e;

import static dev.tally.server.e2e.TestServer.f32;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.core.error.ErrorCode;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Jazzer fuzz target at the wire: raw, mutated request bytes sent over real sockets (TCP and a
 * Unix socket) to {@code Sample} and to a live {@code Session}, as an outside client would. The
 * first byte picks the method and the transport; the rest is the message. Checked for every
 * input: the call is answered with a documented code and {@code ErrorInfo} reason (never {@code
 * UNKNOWN}, {@code INTERNAL} or {@code DEADLINE_EXCEEDED}); a session answers the step in-band and
 * then serves a good step; nothing is logged as SEVERE; and a bystander session on another
 * connection, stepping all the while, gets exactly the tokens it got before the fuzzing began.
 *
 * <p>Stored inputs (valid messages of both types and the malformed cases of issue 12) are in
 * {@code WireFuzzTestInputs/wire/}; CI fuzzes from them for 20 s (docs/fuzzing.md).
 */
final class WireFuzzTest {
  private static TestServer server;
  private static final AtomicReference<String> severe = new AtomicReference<>();
  private static final Handler JUL = new Handler() {
    @Override
    public void publish(LogRecord record) {
      if (record.getLevel().intValue() >= Level.SEVERE.intValue()) {
        severe.compareAndSet(null, record.getLoggerName() + ": " + record.getMessage());
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };
  private static Bystander bystander;

  /** What a whole request or step may be refused with, here (no plugins, no regions). */
  private static final Set<ErrorCode> REFUSALS = EnumSet.of(ErrorCode.MALFORMED_REQUEST,
      ErrorCode.INVALID_TENSOR, ErrorCode.INVALID_PARAMS, ErrorCode.UNKNOWN_PROCESSOR,
      ErrorCode.LIMIT_EXCEEDED, ErrorCode.UNKNOWN_SEQUENCE, ErrorCode.DUPLICATE_SEQUENCE,
      ErrorCode.INVALID_SHARED_MEMORY, ErrorCode.SHARED_MEMORY_UNAVAILABLE,
      ErrorCode.UNKNOWN_VOCABULARY);
  /** What one row may fail with. */
  private static final Set<ErrorCode> ROW_ERRORS = EnumSet.of(ErrorCode.INVALID_LOGITS,
      ErrorCode.NO_CANDIDATES, ErrorCode.INVALID_PARAMS);

  @BeforeAll
  static void start() throws Exception {
    java.util.logging.Logger.getLogger("").addHandler(JUL);
    server = TestServer.start();
    bystander = new Bystander(server.tcp);
    bystander.start();
  }

  @AfterAll
  static void stop() throws Exception {
    bystander.finish();
    server.close();
    java.util.logging.Logger.getLogger("").removeHandler(JUL);
  }

  @FuzzTest(maxDuration = "20s")
  void wire(byte[] input) throws Exception {
    if (input.length == 0) {
      return;
    }
    ManagedChannel channel = (input[0] & 2) == 0 ? server.uds : server.tcp;
    byte[] message = java.util.Arrays.copyOfRange(input, 1, input.length);
    if ((input[0] & 1) == 0) {
      sample(channel, message);
    } else {
      step(channel, message);
    }
    String line = severe.get();
    if (line != null) {
      throw new AssertionError("logged as SEVERE: " + line);
    }
    bystander.check();
  }

  private static void sample(ManagedChannel channel, byte[] message) {
    SampleResponse response;
    try {
      response = RawCalls.sample(channel, message);
    } catch (StatusRuntimeException e) {
      checkRefusal(StatusProto.fromThrowable(e), "Sample");
      return;
    }
    checkRows(response.getChoicesList());
  }

  /** A fresh session: two sequences added, the fuzzed step, then a good step that must work. */
  private static void step(ManagedChannel channel, byte[] message) throws Exception {
    try (RawCalls.Session session = new RawCalls.Session(channel)) {
      SessionResponse added = session.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(Sequence.newBuilder().setId(1)
              .setParams(SamplingParams.newBuilder().setTemperature(0)))
          .addAdded(Sequence.newBuilder().setId(2)
              .setParams(SamplingParams.newBuilder().setSeed(7))).build());
      if (added.hasError()) {
        throw new AssertionError("setup step failed: " + added);
      }
      SessionResponse fuzzed = session.step(message);
      if (fuzzed.hasError()) {
        checkRefusal(fuzzed.getError(), "Session step");
      } else {
        checkRows(fuzzed.getChoicesList());
      }
      // The stream goes on. The fuzzed step may have removed the sequences: add a fresh one.
      SessionResponse good = session.step(SessionRequest.newBuilder().setStepId(1 << 20)
          .addAdded(Sequence.newBuilder().setId(1L << 40)
              .setParams(SamplingParams.newBuilder().setTemperature(0)))
          .addRowSequenceIds(1L << 40).setLogits(f32(1, 4, 0f, 1f, 3f, 2f)).build());
      if (good.hasError() || good.getChoices(0).getTokenId() != 2) {
        throw new AssertionError("the step after the fuzzed one: " + good);
      }
    }
  }

  private static void checkRefusal(com.google.rpc.Status status, String what) {
    Status.Code code = Status.fromCodeValue(status.getCode()).getCode();
    ErrorCode reason = reason(status);
    if (reason == null || !REFUSALS.contains(reason)
        || !reason.canonical().name().equals(code.name())) {
      throw new AssertionError(what + " answered " + code + " / " + reason + ": "
          + status.getMessage());
    }
  }

  private static void checkRows(List<TokenChoice> choices) {
    for (TokenChoice c : choices) {
      if (c.hasError()) {
        ErrorCode reason = reason(c.getError());
        if (reason == null || !ROW_ERRORS.contains(reason) || c.getTokenId() != -1) {
          throw new AssertionError("row error " + reason + ": " + c.getError().getMessage());
        }
      } else if (c.getTokenId() < 0) {
        throw new AssertionError("token " + c.getTokenId() + " without an error");
      }
    }
  }

  private static ErrorCode reason(com.google.rpc.Status status) {
    for (Any any : status.getDetailsList()) {
      if (any.is(ErrorInfo.class)) {
        try {
          return ErrorCode.valueOf(any.unpack(ErrorInfo.class).getReason());
        } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
          return null;
        }
      }
    }
    return null;
  }

  /**
   * A well-behaved session on its own connection, replaying the same seeded steps over and over
   * while the fuzzer runs: every replay must give the tokens of the first.
   */
  private static final class Bystander extends Thread {
    private static final int STEPS = 16;
    private final ManagedChannel channel;
    private final AtomicBoolean done = new AtomicBoolean();
    private final AtomicReference<String> failure = new AtomicReference<>();
    private final List<Integer> reference;

    Bystander(ManagedChannel channel) throws Exception {
      super("wire-fuzz-bystander");
      setDaemon(true);
      this.channel = channel;
      this.reference = replay();
    }

    @Override
    public void run() {
      try {
        while (!done.get()) {
          List<Integer> tokens = replay();
          if (!tokens.equals(reference)) {
            failure.compareAndSet(null, "bystander got " + tokens + ", expected " + reference);
          }
        }
      } catch (Exception | AssertionError e) {
        failure.compareAndSet(null, "bystander failed: " + e);
      }
    }

    private List<Integer> replay() throws Exception {
      List<Integer> tokens = new ArrayList<>();
      try (RawCalls.Session s = new RawCalls.Session(channel)) {
        s.step(SessionRequest.newBuilder().setStepId(1).addAdded(Sequence.newBuilder().setId(9)
            .setParams(SamplingParams.newBuilder().setSeed(1234).setTopK(3))).build());
        for (int i = 0; i < STEPS; i++) {
          SessionResponse r = s.step(SessionRequest.newBuilder().setStepId(2 + i)
              .addRowSequenceIds(9).setLogits(f32(1, 6, 0.5f, 1f, 0.9f, 0.2f, 1.1f, 0.7f))
              .build());
          tokens.add(r.hasError() ? -100 : r.getChoices(0).getTokenId());
        }
      }
      return tokens;
    }

    void check() {
      String f = failure.get();
      if (f != null) {
        throw new AssertionError(f);
      }
    }

    void finish() throws InterruptedException {
      done.set(true);
      join(30_000);
      check();
    }
  }
}
