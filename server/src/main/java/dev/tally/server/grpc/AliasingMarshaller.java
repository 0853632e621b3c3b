package dev.tally.server.grpc;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.ExtensionRegistryLite;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Parses requests that carry a logits tensor with one copy of their bytes, not two or three.
 *
 * <p>gRPC's default marshaller streams a large message through a small buffer and then copies the
 * {@code bytes} field again into its own array. This one reads the whole message once into a
 * single array (one bulk copy out of Netty's buffers), and parses it with aliasing on, so the
 * tensor's {@code ByteString} is a view of that array. The array is never written after parsing
 * until its step gives it back to {@link RequestBuffers}, which is what makes the aliasing safe.
 * Responses use the default marshaller.
 */
final class AliasingMarshaller<T extends Message> implements MethodDescriptor.Marshaller<T> {
  private final Parser<T> parser;
  private final MethodDescriptor.Marshaller<T> fallback;
  private final RequestBuffers buffers;

  private AliasingMarshaller(T defaultInstance, RequestBuffers buffers) {
    this.buffers = buffers;
    @SuppressWarnings("unchecked")
    Parser<T> p = (Parser<T>) defaultInstance.getParserForType();
    this.parser = p;
    this.fallback = ProtoUtils.marshaller(defaultInstance);
  }

  static <T extends Message> AliasingMarshaller<T> of(T defaultInstance, RequestBuffers buffers) {
    return new AliasingMarshaller<>(defaultInstance, buffers);
  }

  @Override
  public InputStream stream(T value) {
    return fallback.stream(value);
  }

  @Override
  public T parse(InputStream stream) {
    try {
      int[] size = new int[1];
      byte[] bytes = readAll(stream, size);
      CodedInputStream in = UnsafeByteOperations.unsafeWrap(bytes, 0, size[0]).newCodedInput();
      in.enableAliasing(true);
      in.setSizeLimit(Integer.MAX_VALUE); // the transport already enforced the message limit
      T message = parser.parseFrom(in, ExtensionRegistryLite.getEmptyRegistry());
      in.checkLastTagWas(0);
      return message;
    } catch (InvalidProtocolBufferException e) {
      throw Status.INVALID_ARGUMENT.withDescription("invalid protobuf message: " + e.getMessage())
          .withCause(e).asRuntimeException();
    } catch (IOException e) {
      throw Status.INVALID_ARGUMENT.withDescription("cannot read the message: " + e.getMessage())
          .withCause(e).asRuntimeException();
    }
  }

  /** The message's bytes, in {@code [0, size[0])} of the array (from {@link RequestBuffers}). */
  private byte[] readAll(InputStream stream, int[] sizeOut) throws IOException {
    if (stream instanceof KnownLength) {
      int size = stream.available();
      sizeOut[0] = size;
      byte[] bytes = buffers.take(size);
      int read = 0;
      while (read < size) {
        int n = stream.read(bytes, read, size - read);
        if (n < 0) {
          throw new IOException("message ended after " + read + " of " + size + " bytes");
        }
        read += n;
      }
      return bytes;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    stream.transferTo(out);
    sizeOut[0] = out.size();
    return out.toByteArray();
  }
}
