package dev.tally.server.grpc;

import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.server.metrics.TallyMetrics;
import io.grpc.Attributes;
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
import java.io.UncheckedIOException;

/**
 * {@code max_message_bytes}, enforced by Tally so that the refusal carries its {@code ErrorInfo}
 * ({@code LIMIT_EXCEEDED}, naming the limit) like every other limit.
 *
 * <p>gRPC's own limit answers {@code RESOURCE_EXHAUSTED} with no details, and an exception from a
 * marshaller becomes {@code UNKNOWN}. So the transport's limit is set a little higher ({@link
 * #transportLimit}), and the method's request marshaller measures each message before parsing
 * it: one over the limit is not parsed but handed on as "too large", and the call is closed with
 * Tally's error. A message more than that margin over the limit is still cut off by gRPC itself
 * while it arrives, so that no client can make the server buffer an unbounded message.
 */
final class MessageSizeLimit {
  private MessageSizeLimit() {}

  /** The transport's limit for a Tally limit: a quarter more, at least 1 MiB more. */
  static int transportLimit(int maxMessageBytes) {
    long margin = Math.max(1L << 20, maxMessageBytes / 4L);
    return (int) Math.min(Integer.MAX_VALUE, maxMessageBytes + margin);
  }

  /** A request: the parsed message, or the size of one refused as too large. */
  record Inbound<Q>(Q message, long size) {
    boolean tooLarge() {
      return message == null;
    }
  }

  /** {@code method}, its requests parsed by {@code parser} only when within {@code limit}. */
  static <Q, R> ServerMethodDefinition<Inbound<Q>, R> limit(ServerMethodDefinition<Q, R> method,
      MethodDescriptor.Marshaller<Q> parser, int limit, TallyMetrics metrics) {
    MethodDescriptor<Q, R> plain = method.getMethodDescriptor();
    MethodDescriptor<Inbound<Q>, R> limited = plain.toBuilder(
        new Measuring<>(parser, limit), plain.getResponseMarshaller()).build();
    ServerCallHandler<Q, R> handler = method.getServerCallHandler();
    return ServerMethodDefinition.create(limited,
        (call, headers) -> new Refusing<>(call, handler.startCall(new Unwrapped<>(call, plain),
            headers), limit, metrics));
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
      try {
        if (stream instanceof KnownLength) { // Netty's buffers: the size is known unread
          int size = stream.available();
          return size > limit ? new Inbound<>(null, size)
              : new Inbound<>(parser.parse(stream), size);
        }
        // A compressed message: its size is known once inflated (gRPC bounds that too).
        byte[] bytes = stream.readAllBytes();
        return bytes.length > limit ? new Inbound<>(null, bytes.length)
            : new Inbound<>(parser.parse(new Bytes(bytes)), bytes.length);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
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
   * Passes messages within the limit on to the service's listener. A message over it closes the
   * call with Tally's error; the service's listener is then told the call was cancelled, so it
   * releases what it holds (a session's sequences and slot), and hears nothing more.
   */
  private static final class Refusing<Q, R> extends ServerCall.Listener<Inbound<Q>> {
    private final ServerCall<Inbound<Q>, R> call;
    private final ServerCall.Listener<Q> delegate;
    private final int limit;
    private final TallyMetrics metrics;
    private boolean refused; // listener callbacks come one at a time

    Refusing(ServerCall<Inbound<Q>, R> call, ServerCall.Listener<Q> delegate, int limit,
        TallyMetrics metrics) {
      this.call = call;
      this.delegate = delegate;
      this.limit = limit;
      this.metrics = metrics;
    }

    @Override
    public void onMessage(Inbound<Q> message) {
      if (refused) {
        return;
      }
      if (!message.tooLarge()) {
        delegate.onMessage(message.message());
        return;
      }
      refused = true;
      metrics.error("RESOURCE_EXHAUSTED", ErrorCode.LIMIT_EXCEEDED.name());
      StatusRuntimeException e = Errors.toException(new TallyException(ErrorCode.LIMIT_EXCEEDED,
          "max_message_bytes", "the message is " + message.size()
              + " bytes; this server's limit (max_message_bytes) is " + limit));
      // Release first, so a client that sees the end never finds the session still counted.
      delegate.onCancel();
      call.close(e.getStatus(), e.getTrailers() == null ? new Metadata() : e.getTrailers());
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
