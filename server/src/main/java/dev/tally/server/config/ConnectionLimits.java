package dev.tally.server.config;

import java.time.Duration;
import java.util.Objects;

/**
 * What one HTTP/2 connection may do: the transport's defences against abusive peers (rapid reset,
 * header and CONTINUATION floods, PING floods, stream floods, idle connections). Each limit holds
 * per connection; {@link ServerConfig#maxSessions()} holds for the whole server.
 *
 * @param maxConcurrentStreams streams one connection may have open at once, advertised as
 *     SETTINGS_MAX_CONCURRENT_STREAMS; a stream past it is refused with RST_STREAM(REFUSED_STREAM),
 *     which gRPC clients queue behind rather than fail
 * @param maxRstFramesPerWindow RST_STREAM frames a client may send per {@code rstWindow} before
 *     the connection is closed with GOAWAY(ENHANCE_YOUR_CALM) (CVE-2023-44487, rapid reset)
 * @param rstWindow the window of {@code maxRstFramesPerWindow}; whole seconds
 * @param maxHeaderListBytes the largest header list (metadata) of one request, advertised as
 *     SETTINGS_MAX_HEADER_LIST_SIZE; past it the call fails, and a header block a quarter past it
 *     (a CONTINUATION flood) closes the connection
 * @param permitKeepAliveTime the shortest interval at which a client may ping; a client pinging
 *     faster is told GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") after two strikes
 * @param permitKeepAliveWithoutCalls whether a client may ping at that rate with no call open
 *     (otherwise once in two hours, as gRPC's keepalive rules say)
 * @param maxConnectionIdle how long a connection may stay without a call before the server closes
 *     it gracefully (GOAWAY(NO_ERROR)); pings do not count as calls
 * @param keepAliveTime how long a connection may be silent before the server pings the client, so
 *     that a vanished peer's connection (and its sessions) does not linger
 * @param keepAliveTimeout how long the server waits for that ping's answer before closing
 */
public record ConnectionLimits(
    int maxConcurrentStreams,
    int maxRstFramesPerWindow,
    Duration rstWindow,
    int maxHeaderListBytes,
    Duration permitKeepAliveTime,
    boolean permitKeepAliveWithoutCalls,
    Duration maxConnectionIdle,
    Duration keepAliveTime,
    Duration keepAliveTimeout) {

  /**
   * Twice the default {@link ServerConfig#DEFAULT_MAX_SESSIONS}: a model server usually puts every
   * session on one channel, so one connection must hold all of them plus its unary calls.
   */
  public static final int DEFAULT_MAX_CONCURRENT_STREAMS = 2 * ServerConfig.DEFAULT_MAX_SESSIONS;

  /** Netty's own server default, and the figure grpc-java's rapid-reset fix was tuned against. */
  public static final int DEFAULT_MAX_RST_FRAMES = 200;

  public static final Duration DEFAULT_RST_WINDOW = Duration.ofSeconds(30);

  /** Twice gRPC's 8 KiB: room for bearer tokens and tracing headers added by a mesh. */
  public static final int DEFAULT_MAX_HEADER_LIST_BYTES = 16 * 1024;

  /** A minute: more lenient than gRPC's five, for clients behind proxies that ping every minute. */
  public static final Duration DEFAULT_PERMIT_KEEPALIVE_TIME = Duration.ofMinutes(1);

  public static final Duration DEFAULT_MAX_CONNECTION_IDLE = Duration.ofMinutes(30);

  /** Far below gRPC's two hours: a dead peer's sessions count against max-sessions meanwhile. */
  public static final Duration DEFAULT_KEEPALIVE_TIME = Duration.ofMinutes(5);

  public static final Duration DEFAULT_KEEPALIVE_TIMEOUT = Duration.ofSeconds(20);

  /** Below this gRPC would not enforce a PING limit worth the name. */
  static final Duration MIN_PERMIT_KEEPALIVE_TIME = Duration.ofSeconds(1);

  public ConnectionLimits {
    Objects.requireNonNull(rstWindow, "rstWindow");
    Objects.requireNonNull(permitKeepAliveTime, "permitKeepAliveTime");
    Objects.requireNonNull(maxConnectionIdle, "maxConnectionIdle");
    Objects.requireNonNull(keepAliveTime, "keepAliveTime");
    Objects.requireNonNull(keepAliveTimeout, "keepAliveTimeout");
    if (maxConcurrentStreams < 1) {
      throw new IllegalArgumentException(
          "max concurrent streams must be positive: " + maxConcurrentStreams);
    }
    if (maxRstFramesPerWindow < 1) {
      throw new IllegalArgumentException(
          "max RST_STREAM frames per window must be positive: " + maxRstFramesPerWindow);
    }
    // grpc-java counts the window in whole seconds
    if (rstWindow.toMillis() % 1000 != 0 || rstWindow.toSeconds() < 1
        || rstWindow.toSeconds() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("the RST_STREAM window must be whole seconds: "
          + rstWindow);
    }
    if (maxHeaderListBytes < 1024) {
      throw new IllegalArgumentException(
          "the header list limit must be at least 1024 bytes: " + maxHeaderListBytes);
    }
    if (permitKeepAliveTime.compareTo(MIN_PERMIT_KEEPALIVE_TIME) < 0) {
      throw new IllegalArgumentException(
          "the permitted keepalive time must be at least 1s: " + permitKeepAliveTime);
    }
    positive("the max connection idle", maxConnectionIdle);
    positive("the keepalive time", keepAliveTime);
    positive("the keepalive timeout", keepAliveTimeout);
  }

  private static void positive(String what, Duration d) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " must be positive: " + d);
    }
  }

  public static ConnectionLimits defaults() {
    return new ConnectionLimits(DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_RST_FRAMES,
        DEFAULT_RST_WINDOW, DEFAULT_MAX_HEADER_LIST_BYTES, DEFAULT_PERMIT_KEEPALIVE_TIME, false,
        DEFAULT_MAX_CONNECTION_IDLE, DEFAULT_KEEPALIVE_TIME, DEFAULT_KEEPALIVE_TIMEOUT);
  }

  public ConnectionLimits withMaxConcurrentStreams(int max) {
    return new ConnectionLimits(max, maxRstFramesPerWindow, rstWindow, maxHeaderListBytes,
        permitKeepAliveTime, permitKeepAliveWithoutCalls, maxConnectionIdle, keepAliveTime,
        keepAliveTimeout);
  }

  public ConnectionLimits withMaxConnectionIdle(Duration idle) {
    return new ConnectionLimits(maxConcurrentStreams, maxRstFramesPerWindow, rstWindow,
        maxHeaderListBytes, permitKeepAliveTime, permitKeepAliveWithoutCalls, idle,
        keepAliveTime, keepAliveTimeout);
  }
}
