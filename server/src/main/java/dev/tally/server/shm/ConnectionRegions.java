package dev.tally.server.shm;

import io.grpc.Attributes;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerTransportFilter;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * Gives every connection a {@link RegionTable} (its unary registrations), freed when the
 * connection closes however it closes, and hands it to the calls on that connection through the
 * gRPC {@link Context}. A connection through a TCP listener on a non-loopback address gets a table
 * that refuses shared memory: the object would have to be on the client's host.
 */
public final class ConnectionRegions extends ServerTransportFilter implements ServerInterceptor {
  private static final Attributes.Key<RegionTable> TABLE = Attributes.Key.create("tally-regions");
  private static final Context.Key<RegionTable> CURRENT = Context.key("tally-regions");

  private final SharedMemory memory;

  public ConnectionRegions(SharedMemory memory) {
    this.memory = memory;
  }

  /** The current call's connection regions, or null outside a call of a listener. */
  public static RegionTable current() {
    return CURRENT.get();
  }

  @Override
  public Attributes transportReady(Attributes attributes) {
    SocketAddress local = attributes.get(Grpc.TRANSPORT_ATTR_LOCAL_ADDR);
    String refusal = null;
    if (local instanceof InetSocketAddress inet && inet.getAddress() != null
        && !inet.getAddress().isLoopbackAddress()) {
      refusal = "shared memory is refused on a TCP listener bound to a non-loopback address ("
          + inet + "): connect over the Unix socket or loopback, or send the logits inline";
    }
    return attributes.toBuilder().set(TABLE, memory.newTable(refusal)).build();
  }

  @Override
  public void transportTerminated(Attributes attributes) {
    RegionTable table = attributes.get(TABLE);
    if (table != null) {
      table.close();
    }
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    RegionTable table = call.getAttributes().get(TABLE);
    if (table == null) {
      return next.startCall(call, headers);
    }
    return Contexts.interceptCall(Context.current().withValue(CURRENT, table), call, headers, next);
  }
}
