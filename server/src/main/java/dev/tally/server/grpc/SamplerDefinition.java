package dev.tally.server.grpc;

import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SessionRequest;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code tally.v1.Sampler} service definition as the server binds it: the generated one, with
 * the tensor-carrying requests ({@code Sample}, {@code Session}) parsed by {@link
 * AliasingMarshaller}.
 */
public final class SamplerDefinition {
  private SamplerDefinition() {}

  public static ServerServiceDefinition bind(SamplerService service) {
    ServerServiceDefinition generated = SamplerGrpc.bindService(service);
    ServiceDescriptor original = generated.getServiceDescriptor();
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    // The service descriptor must hold the very method descriptors bound below; the schema
    // descriptor is kept, so reflection still describes the service.
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    for (ServerMethodDefinition<?, ?> method : generated.getMethods()) {
      ServerMethodDefinition<?, ?> m = withAliasing(method);
      methods.add(m);
      descriptor.addMethod(m.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(b::addMethod);
    return b.build();
  }

  @SuppressWarnings("unchecked")
  private static <Q, R> ServerMethodDefinition<Q, R> withAliasing(ServerMethodDefinition<Q, R> m) {
    MethodDescriptor<Q, R> d = m.getMethodDescriptor();
    MethodDescriptor.Marshaller<Q> marshaller;
    if (d.getFullMethodName().equals(SamplerGrpc.getSampleMethod().getFullMethodName())) {
      marshaller = (MethodDescriptor.Marshaller<Q>) AliasingMarshaller.of(
          SampleRequest.getDefaultInstance());
    } else if (d.getFullMethodName().equals(SamplerGrpc.getSessionMethod().getFullMethodName())) {
      marshaller = (MethodDescriptor.Marshaller<Q>) AliasingMarshaller.of(
          SessionRequest.getDefaultInstance());
    } else {
      return m;
    }
    return ServerMethodDefinition.create(
        d.toBuilder(marshaller, d.getResponseMarshaller()).build(), m.getServerCallHandler());
  }
}
