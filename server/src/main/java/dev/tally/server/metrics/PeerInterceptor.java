package dev.tally.server.metrics;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.net.SocketAddress;

/** Puts the caller's address in the gRPC {@link Context} for the session log lines. */
public final class PeerInterceptor implements ServerInterceptor {
  public static final Context.Key<String> PEER = Context.key("tally-peer");

  /** The current call's peer, or "unknown". */
  public static String current() {
    String p = PEER.get();
    return p == null ? "unknown" : p;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    String peer;
    if (remote instanceof java.net.InetSocketAddress inet && inet.getAddress() != null) {
      String host = inet.getAddress().getHostAddress();
      peer = (host.contains(":") ? "[" + host + "]" : host) + ":" + inet.getPort();
    } else {
      peer = remote == null ? "unknown" : remote.toString();
    }
    if (peer.isEmpty() || peer.equals("DomainSocketAddress()")) {
      peer = "unix";
    }
    return Contexts.interceptCall(Context.current().withValue(PEER, peer), call, headers, next);
  }
}
