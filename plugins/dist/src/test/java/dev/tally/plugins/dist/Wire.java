package dev.tally.plugins.dist;

import com.google.protobuf.ByteString;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.ProcessorSpec;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Request-building helpers and a step-by-step Session client for the end-to-end tests. */
final class Wire {
  private Wire() {}

  static Logits f32(int rows, int vocab, float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return Logits.newBuilder().setDtype(DType.DTYPE_FLOAT32).setRows(rows).setVocabSize(vocab)
        .setData(ByteString.copyFrom(b)).build();
  }

  static Value num(double d) {
    return Value.newBuilder().setNumberValue(d).build();
  }

  static Value list(Value... values) {
    ListValue.Builder l = ListValue.newBuilder();
    for (Value v : values) {
      l.addValues(v);
    }
    return Value.newBuilder().setListValue(l).build();
  }

  static ProcessorSpec stage(String name, Map<String, Value> params) {
    return ProcessorSpec.newBuilder().setName(name)
        .setParams(Struct.newBuilder().putAllFields(params)).build();
  }

  /** One Session stream; {@link #step} sends a request and waits for its response. */
  static final class Session implements AutoCloseable {
    private final BlockingQueue<Object> replies = new LinkedBlockingQueue<>();
    private final StreamObserver<SessionRequest> requests;

    Session(SamplerGrpc.SamplerStub stub) {
      this.requests = stub.session(new StreamObserver<>() {
        @Override
        public void onNext(SessionResponse r) {
          replies.add(r);
        }

        @Override
        public void onError(Throwable t) {
          replies.add(t);
        }

        @Override
        public void onCompleted() {
          replies.add("completed");
        }
      });
    }

    SessionResponse step(SessionRequest request) throws InterruptedException {
      requests.onNext(request);
      Object reply = replies.poll(30, TimeUnit.SECONDS);
      if (!(reply instanceof SessionResponse)) {
        throw new AssertionError("expected a SessionResponse, got " + reply);
      }
      SessionResponse r = (SessionResponse) reply;
      if (r.hasError()) {
        throw new AssertionError("step failed: " + r.getError());
      }
      return r;
    }

    @Override
    public void close() {
      requests.onCompleted();
    }
  }
}
