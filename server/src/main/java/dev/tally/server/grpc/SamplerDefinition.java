package dev.tally.server.grpc;

import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SessionRequest;
import dev.tally.server.metrics.TallyMetrics;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code tally.v1.Sampler} service definition as the server binds it: the generated one, with
 * the tensor-carrying requests ({@code Sample}, {@code Session}) parsed by {@link
 * AliasingMarshaller}, and every request held to {@code max_message_bytes} by {@link
 * MessageSizeLimit}.
 */
public final class SamplerDefinition {
  private SamplerDefinition() {}

  /** Without a message limit of its own (gRPC's applies). */
  public static ServerServiceDefinition bind(SamplerService service) {
    return bind(service, Integer.MAX_VALUE, TallyMetrics.noop());
  }

  /**
   * With Tally's {@code max_message_bytes}: give the transport {@link #transportLimit} so that
   * messages a little over it reach this check and get Tally's error.
   */
  public static ServerServiceDefinition bind(SamplerService service, int maxMessageBytes,
      TallyMetrics metrics) {
    ServerServiceDefinition generated = SamplerGrpc.bindService(service);
    ServiceDescriptor original = generated.getServiceDescriptor();
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    // The service descriptor must hold the very method descriptors bound below; the schema
    // descriptor is kept, so reflection still describes the service.
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    for (ServerMethodDefinition<?, ?> method : generated.getMethods()) {
      ServerMethodDefinition<?, ?> m = limited(method, maxMessageBytes, metrics);
      methods.add(m);
      descriptor.addMethod(m.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(b::addMethod);
    return b.build();
  }

  /** The transport's limit for this {@code max_message_bytes}: see {@link MessageSizeLimit}. */
  public static int transportLimit(int maxMessageBytes) {
    return MessageSizeLimit.transportLimit(maxMessageBytes);
  }

  @SuppressWarnings("unchecked")
  private static <Q, R> ServerMethodDefinition<?, R> limited(ServerMethodDefinition<Q, R> m,
      int maxMessageBytes, TallyMetrics metrics) {
    MethodDescriptor<Q, R> d = m.getMethodDescriptor();
    MethodDescriptor.Marshaller<Q> marshaller;
    if (d.getFullMethodName().equals(SamplerGrpc.getSampleMethod().getFullMethodName())) {
      marshaller = (MethodDescriptor.Marshaller<Q>) AliasingMarshaller.of(
          SampleRequest.getDefaultInstance());
    } else if (d.getFullMethodName().equals(SamplerGrpc.getSessionMethod().getFullMethodName())) {
      marshaller = (MethodDescriptor.Marshaller<Q>) AliasingMarshaller.of(
          SessionRequest.getDefaultInstance());
    } else {
      marshaller = d.getRequestMarshaller();
    }
    return MessageSizeLimit.limit(m, marshaller, maxMessageBytes, metrics);
  }
}
