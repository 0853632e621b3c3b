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
 * AliasingMarshaller}, and every request held to {@code max_message_bytes} and checked to parse by
 * {@link RequestGuard}.
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
    MalformedLog malformedLog = new MalformedLog(System::nanoTime);
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    for (ServerMethodDefinition<?, ?> method : generated.getMethods()) {
      ServerMethodDefinition<?, ?> m = guarded(service, method, maxMessageBytes,
          metrics, malformedLog);
      methods.add(m);
      descriptor.addMethod(m.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(b::addMethod);
    return b.build();
  }

  /** The transport's limit for this {@code max_message_bytes}: see {@link RequestGuard}. */
  public static int transportLimit(int maxMessageBytes) {
    return RequestGuard.transportLimit(maxMessageBytes);
  }

  @SuppressWarnings("unchecked")
  private static <Q, R> ServerMethodDefinition<?, R> guarded(SamplerService service,
      ServerMethodDefinition<Q, R> m, int maxMessageBytes, TallyMetrics metrics,
      MalformedLog malformedLog) {
    MethodDescriptor<Q, R> d = m.getMethodDescriptor();
    MethodDescriptor.Marshaller<Q> marshaller;
    if (d.getFullMethodName().equals(SamplerGrpc.getSampleMethod().getFullMethodName())) {
      marshaller = (MethodDescriptor.Marshaller<Q>) AliasingMarshaller.of(
          SampleRequest.getDefaultInstance(), service.requestBuffers());
    } else if (d.getFullMethodName().equals(SamplerGrpc.getSessionMethod().getFullMethodName())) {
      marshaller = (MethodDescriptor.Marshaller<Q>) AliasingMarshaller.of(
          SessionRequest.getDefaultInstance(), service.requestBuffers());
    } else {
      marshaller = d.getRequestMarshaller();
    }
    return RequestGuard.guard(m, marshaller, maxMessageBytes, metrics, malformedLog);
  }
}
