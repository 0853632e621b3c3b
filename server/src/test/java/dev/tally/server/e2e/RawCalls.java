package dev.tally.server.e2e;

import com.google.protobuf.Message;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SessionResponse;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/**
 * Tally's methods with requests as raw bytes: what a client with a framing bug, or an attacker,
 * puts on the wire after the 5-byte gRPC prefix. Responses are parsed as usual.
 */
final class RawCalls {
  private RawCalls() {}

  private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  static final MethodDescriptor<byte[], SampleResponse> SAMPLE =
      SamplerGrpc.getSampleMethod().toBuilder(BYTES, SamplerGrpc.getSampleMethod()
          .getResponseMarshaller()).build();
  static final MethodDescriptor<byte[], SessionResponse> SESSION =
      SamplerGrpc.getSessionMethod().toBuilder(BYTES, SamplerGrpc.getSessionMethod()
          .getResponseMarshaller()).build();

  /** {@code Sample} with these bytes as its request; throws the call's status. */
  static SampleResponse sample(ManagedChannel channel, byte[] request) {
    return ClientCalls.blockingUnaryCall(channel, SAMPLE,
        CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), request);
  }

  /** A {@code Session} whose steps are raw bytes, answered one at a time. */
  static final class Session implements AutoCloseable {
    private final TestServer.Replies replies = new TestServer.Replies();
    private final StreamObserver<byte[]> requests;

    Session(ManagedChannel channel) {
      requests = ClientCalls.asyncBidiStreamingCall(
          channel.newCall(SESSION, CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS)),
          replies);
    }

    SessionResponse step(Message request) throws InterruptedException {
      return step(request.toByteArray());
    }

    /** Sends the bytes and waits for their response; fails if the stream ends instead. */
    SessionResponse step(byte[] request) throws InterruptedException {
      requests.onNext(request);
      Object reply = replies.poll();
      if (reply instanceof SessionResponse r) {
        return r;
      }
      if (reply instanceof StatusRuntimeException e) {
        throw e;
      }
      throw new AssertionError("expected a SessionResponse, got " + reply);
    }

    @Override
    public void close() throws InterruptedException {
      requests.onCompleted();
      replies.poll();
    }
  }
}
