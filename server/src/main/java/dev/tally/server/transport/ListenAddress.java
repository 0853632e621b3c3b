package dev.tally.server.transport;

import io.netty.channel.unix.DomainSocketAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a listener accepts connections: {@code HOST:PORT} (TCP; {@code [::1]:PORT} for IPv6) or
 * {@code unix:PATH} (a Unix domain socket).
 */
public final class ListenAddress {
  private final String host;
  private final int port;
  private final Path socketPath;

  private ListenAddress(String host, int port, Path socketPath) {
    this.host = host;
    this.port = port;
    this.socketPath = socketPath;
  }

  /**
   * Parses a listener.
   *
   * @throws IllegalArgumentException with a message that shows the accepted forms
   */
  public static ListenAddress parse(String text) {
    Objects.requireNonNull(text, "listen address");
    if (text.startsWith("unix:")) {
      String path = text.substring("unix:".length());
      if (path.startsWith("//")) {
        path = path.substring(2); // unix:///abs/path, as gRPC targets are written
      }
      if (path.isEmpty()) {
        throw new IllegalArgumentException("'" + text + "' has no socket path; use unix:PATH");
      }
      return new ListenAddress(null, -1, Path.of(path));
    }
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a listen address; use HOST:PORT or unix:PATH");
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + text + "' has no valid port; use HOST:PORT");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("'" + text + "': port must be in [0, 65535]");
    }
    return new ListenAddress(host, port, null);
  }

  public boolean isUnix() {
    return socketPath != null;
  }

  /** The host, for TCP listeners. */
  public String host() {
    return host;
  }

  /** The socket file, for {@code unix:} listeners. */
  public Path socketPath() {
    return socketPath;
  }

  SocketAddress socketAddress() {
    return isUnix() ? new DomainSocketAddress(socketPath.toString())
        : new InetSocketAddress(host, port);
  }

  @Override
  public String toString() {
    if (isUnix()) {
      return "unix:" + socketPath;
    }
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
