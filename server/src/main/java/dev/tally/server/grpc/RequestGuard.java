package dev.tally.server.grpc;

import com.google.protobuf.Message;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.server.metrics.TallyMetrics;
import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.KnownLength;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Requests as the transport hands them over: each one is measured and parsed here, and one that is
 * over {@code max_message_bytes} or does not parse is refused with Tally's error (an {@code
 * ErrorInfo} reason like every other refusal) instead of gRPC's.
 *
 * <p>gRPC's own limit answers {@code RESOURCE_EXHAUSTED} with no details, and an exception from a
 * marshaller becomes {@code UNKNOWN} with a SEVERE stack trace in the log. So the transport's limit
 * is set a little higher ({@link #transportLimit}), and the method's request marshaller measures
 * each message before parsing it: one over the limit is not parsed but handed on as "too large",
 * and the call is closed with {@code LIMIT_EXCEEDED}. A message more than that margin over the
 * limit is still cut off by gRPC itself while it arrives, so that no client can make the server
 * buffer an unbounded message.
 *
 * <p>A message that does not parse is handed on as "malformed": a unary call is closed with
 * {@code INVALID_ARGUMENT} / {@code MALFORMED_REQUEST}; in a {@code Session} the step is answered
 * in-band by the {@link MalformedSteps} the session registered, and the stream goes on.
 */
final class RequestGuard {
  private RequestGuard() {}

  /** The transport's limit for a Tally limit: a quarter more, at least 1 MiB more. */
  static int transportLimit(int maxMessageBytes) {
    long margin = Math.max(1L << 20, maxMessageBytes / 4L);
    return (int) Math.min(Integer.MAX_VALUE, maxMessageBytes + margin);
  }

  /** A request: the parsed message, or why it was not parsed (too large, or malformed). */
  record Inbound<Q>(Q message, long size, String malformed) {
    static <Q> Inbound<Q> parsed(Q message, long size) {
      return new Inbound<>(message, size, null);
    }

    static <Q> Inbound<Q> tooLarge(long size) {
      return new Inbound<>(null, size, null);
    }

    static <Q> Inbound<Q> malformed(long size, String why) {
      return new Inbound<>(null, size, why);
    }

    boolean tooLarge() {
      return message == null && malformed == null;
    }
  }

  /**
   * {@code method}, its requests parsed by {@code parser} only when within {@code limit}; malformed
   * ones are counted in {@code metrics} and told to {@code malformedLog}.
   */
  static <Q, R> ServerMethodDefinition<Inbound<Q>, R> guard(ServerMethodDefinition<Q, R> method,
      MethodDescriptor.Marshaller<Q> parser, int limit, TallyMetrics metrics,
      MalformedLog malformedLog) {
    MethodDescriptor<Q, R> plain = method.getMethodDescriptor();
    String requestType = plain.getRequestMarshaller()
        instanceof MethodDescriptor.PrototypeMarshaller<Q> p && p.getMessagePrototype() instanceof
        Message m ? m.getDescriptorForType().getFullName() : "the request type";
    MethodDescriptor<Inbound<Q>, R> guarded = plain.toBuilder(
        new Measuring<>(parser, limit), plain.getResponseMarshaller()).build();
    ServerCallHandler<Q, R> handler = method.getServerCallHandler();
    return ServerMethodDefinition.create(guarded, (call, headers) -> {
      MalformedSteps steps = new MalformedSteps();
      Context context = Context.current().withValue(MalformedSteps.KEY, steps);
      Context previous = context.attach(); // the service's handler runs now, and may register
      ServerCall.Listener<Q> listener;
      try {
        listener = handler.startCall(new Unwrapped<>(call, plain), headers);
      } finally {
        context.detach(previous);
      }
      return new Refusing<>(call, listener, limit, metrics, steps, malformedLog,
          plain.getFullMethodName(), requestType);
    });
  }

  /** Measures a message, then parses it only when it is within the limit. */
  private static final class Measuring<Q> implements MethodDescriptor.Marshaller<Inbound<Q>> {
    private final MethodDescriptor.Marshaller<Q> parser;
    private final int limit;

    Measuring(MethodDescriptor.Marshaller<Q> parser, int limit) {
      this.parser = parser;
      this.limit = limit;
    }

    @Override
    public InputStream stream(Inbound<Q> value) {
      return parser.stream(value.message());
    }

    @Override
    public Inbound<Q> parse(InputStream stream) {
      long size = -1;
      try {
        if (stream instanceof KnownLength) { // Netty's buffers: the size is known unread
          size = stream.available();
          return size > limit ? Inbound.tooLarge(size) : Inbound.parsed(parser.parse(stream), size);
        }
        // A compressed message: its size is known once inflated (gRPC bounds that too).
        byte[] bytes = stream.readAllBytes();
        size = bytes.length;
        return bytes.length > limit ? Inbound.tooLarge(size)
            : Inbound.parsed(parser.parse(new Bytes(bytes)), size);
      } catch (StatusRuntimeException e) {
        // Both marshallers report bytes that do not parse this way; the cause says what is wrong.
        Throwable cause = e.getCause() == null ? e : e.getCause();
        return Inbound.malformed(size, cause.getMessage());
      } catch (IOException e) {
        return Inbound.malformed(size, e.getMessage());
      }
    }
  }

  /** Bytes read already, with a known length so the parser reads them in one go. */
  private static final class Bytes extends ByteArrayInputStream implements KnownLength {
    Bytes(byte[] bytes) {
      super(bytes);
    }
  }

  /**
   * Passes well-formed messages within the limit on to the service's listener. A message over the
   * limit, or a malformed one in a unary call, closes the call with Tally's error; the service's
   * listener is then told the call was cancelled, so it releases what it holds (a session's
   * sequences and slot), and hears nothing more. A malformed step of a session is answered in-band.
   */
  private static final class Refusing<Q, R> extends ServerCall.Listener<Inbound<Q>> {
    private final ServerCall<Inbound<Q>, R> call;
    private final ServerCall.Listener<Q> delegate;
    private final int limit;
    private final TallyMetrics metrics;
    private final MalformedSteps steps;
    private final MalformedLog malformedLog;
    private final String method;
    private final String requestType;
    private boolean refused; // listener callbacks come one at a time

    Refusing(ServerCall<Inbound<Q>, R> call, ServerCall.Listener<Q> delegate, int limit,
        TallyMetrics metrics, MalformedSteps steps, MalformedLog malformedLog, String method,
        String requestType) {
      this.call = call;
      this.delegate = delegate;
      this.limit = limit;
      this.metrics = metrics;
      this.steps = steps;
      this.malformedLog = malformedLog;
      this.method = method;
      this.requestType = requestType;
    }

    @Override
    public void onMessage(Inbound<Q> message) {
      if (refused) {
        return;
      }
      if (message.message() != null) {
        delegate.onMessage(message.message());
        return;
      }
      TallyException error;
      if (message.tooLarge()) {
        error = new TallyException(ErrorCode.LIMIT_EXCEEDED, "max_message_bytes", "the message is "
            + message.size() + " bytes; this server's limit (max_message_bytes) is " + limit);
      } else {
        error = malformed(message);
        malformedLog.malformed(method, message.size(), message.malformed());
        if (steps.answer(error)) {
          return; // answered in-band; the session asks for its next step itself
        }
      }
      refused = true;
      metrics.error(error.code().canonical().name(), error.code().name());
      StatusRuntimeException e = Errors.toException(error);
      // Release first, so a client that sees the end never finds the session still counted.
      delegate.onCancel();
      call.close(e.getStatus(), e.getTrailers() == null ? new Metadata() : e.getTrailers());
    }

    private TallyException malformed(Inbound<Q> message) {
      return new TallyException(ErrorCode.MALFORMED_REQUEST, null, "the request's "
          + message.size() + " bytes do not parse as " + requestType + ": "
          + message.malformed());
    }

    @Override
    public void onHalfClose() {
      if (!refused) {
        delegate.onHalfClose();
      }
    }

    @Override
    public void onCancel() {
      if (!refused) {
        delegate.onCancel();
      }
    }

    @Override
    public void onComplete() {
      if (!refused) {
        delegate.onComplete();
      }
    }

    @Override
    public void onReady() {
      if (!refused) {
        delegate.onReady();
      }
    }
  }

  /** The call as the service sees it: plain requests; everything else is the real call's. */
  private static final class Unwrapped<Q, R> extends ServerCall<Q, R> {
    private final ServerCall<Inbound<Q>, R> call;
    private final MethodDescriptor<Q, R> method;

    Unwrapped(ServerCall<Inbound<Q>, R> call, MethodDescriptor<Q, R> method) {
      this.call = call;
      this.method = method;
    }

    @Override
    public void request(int n) {
      call.request(n);
    }

    @Override
    public void sendHeaders(Metadata headers) {
      call.sendHeaders(headers);
    }

    @Override
    public void sendMessage(R message) {
      call.sendMessage(message);
    }

    @Override
    public boolean isReady() {
      return call.isReady();
    }

    @Override
    public void close(Status status, Metadata trailers) {
      call.close(status, trailers);
    }

    @Override
    public boolean isCancelled() {
      return call.isCancelled();
    }

    @Override
    public void setMessageCompression(boolean enabled) {
      call.setMessageCompression(enabled);
    }

    @Override
    public void setCompression(String compressor) {
      call.setCompression(compressor);
    }

    @Override
    public void setOnReadyThreshold(int numBytes) {
      call.setOnReadyThreshold(numBytes);
    }

    @Override
    public SecurityLevel getSecurityLevel() {
      return call.getSecurityLevel();
    }

    @Override
    public Attributes getAttributes() {
      return call.getAttributes();
    }

    @Override
    public String getAuthority() {
      return call.getAuthority();
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }
  }
}
