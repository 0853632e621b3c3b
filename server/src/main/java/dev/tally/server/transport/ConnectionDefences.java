package dev.tally.server.transport;

import dev.tally.server.config.ConnectionLimits;
import io.grpc.netty.NettyServerBuilder;
import java.util.concurrent.TimeUnit;

/**
 * grpc-java's HTTP/2 defences, set from {@link ConnectionLimits}. What each one meets is in
 * {@code docs/operations.md}, "Connection limits"; {@code Http2AbuseEndToEndTest} attacks each.
 *
 * <p>Two defences need no setting: Netty closes a connection whose peer makes the server queue
 * more than 10,000 control frames it does not read (SETTINGS or PING acknowledgements, resets),
 * and gRPC's own flow control bounds what a peer may make the server buffer.
 */
final class ConnectionDefences {
  private ConnectionDefences() {}

  static NettyServerBuilder apply(NettyServerBuilder builder, ConnectionLimits limits) {
    return builder
        .maxConcurrentCallsPerConnection(limits.maxConcurrentStreams())
        // CVE-2023-44487: each HEADERS + RST_STREAM pair costs the server a call it never serves.
        .maxRstFramesPerWindow(limits.maxRstFramesPerWindow(),
            (int) limits.rstWindow().toSeconds())
        // Soft and hard limit alike: a header list past it fails the call, every time.
        .maxInboundMetadataSize(limits.maxHeaderListBytes())
        .permitKeepAliveTime(limits.permitKeepAliveTime().toNanos(), TimeUnit.NANOSECONDS)
        .permitKeepAliveWithoutCalls(limits.permitKeepAliveWithoutCalls())
        .maxConnectionIdle(limits.maxConnectionIdle().toNanos(), TimeUnit.NANOSECONDS)
        .keepAliveTime(limits.keepAliveTime().toNanos(), TimeUnit.NANOSECONDS)
        .keepAliveTimeout(limits.keepAliveTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }
}
