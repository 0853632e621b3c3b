package dev.tally.server.transport;

import dev.tally.server.config.ServerConfig;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import org.slf4j.Logger;

/**
 * The transport's security rules: plaintext TCP only on loopback unless {@code --insecure}, and
 * TLS (mutual when a client CA is given) for every TCP listener when configured.
 */
public final class Security {
  private Security() {}

  /**
   * Refuses a plaintext TCP listener on a non-loopback address unless the config says {@code
   * insecure}; logs a warning for each one allowed that way.
   *
   * @throws IllegalArgumentException naming the listener and the options that would allow it
   */
  public static void checkListeners(ServerConfig config, Logger log) {
    for (ListenAddress address : plaintextNetworkListeners(config)) {
      if (!config.insecure()) {
        throw new IllegalArgumentException(refusal(address));
      }
      log.warn("--insecure: {} accepts plaintext connections from the network", address);
    }
  }

  /**
   * The metrics endpoint follows the rule of the gRPC listeners: it is plain HTTP, so on a
   * non-loopback address it needs {@code --insecure}, and then logs a warning.
   *
   * @throws IllegalArgumentException naming the address and the option that would allow it
   */
  public static void checkMetricsListener(ListenAddress address, boolean insecure, Logger log) {
    if (address.isUnix() || isLoopback(address.host())) {
      return;
    }
    if (!insecure) {
      throw new IllegalArgumentException(metricsRefusal(address));
    }
    log.warn("--insecure: the metrics endpoint {} serves plain HTTP to the network", address);
  }

  /** The message for a metrics endpoint on a non-loopback address without --insecure. */
  public static String metricsRefusal(ListenAddress address) {
    return "--metrics-listen " + address + " is not a loopback address: the metrics endpoint is"
        + " plain HTTP; allow it with --insecure";
  }

  /** The message for a plaintext listener on a non-loopback address without --insecure. */
  public static String refusal(ListenAddress address) {
    return "--listen " + address + " is not a loopback address: serve it with TLS (--tls-cert,"
        + " --tls-key) or allow plaintext with --insecure";
  }

  /** TCP listeners that would take plaintext on a non-loopback address. */
  public static java.util.List<ListenAddress> plaintextNetworkListeners(ServerConfig config) {
    return plaintextNetworkListeners(config.listeners(), config.tls() != null);
  }

  /** Of these listeners, the TCP ones that would take plaintext on a non-loopback address. */
  public static java.util.List<ListenAddress> plaintextNetworkListeners(
      java.util.List<ListenAddress> listeners, boolean tls) {
    java.util.List<ListenAddress> out = new java.util.ArrayList<>();
    if (tls) {
      return out;
    }
    for (ListenAddress address : listeners) {
      if (!address.isUnix() && !isLoopback(address.host())) {
        out.add(address);
      }
    }
    return out;
  }

  /** Whether every address {@code host} names is a loopback address. */
  public static boolean isLoopback(String host) {
    if (host.equalsIgnoreCase("localhost")) {
      return true;
    }
    try {
      for (InetAddress a : InetAddress.getAllByName(host)) {
        if (!a.isLoopbackAddress()) {
          return false;
        }
      }
      return true;
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** The server side of TLS: the certificate and key, and client certificates if a CA is set. */
  static SslContext serverContext(ServerConfig.Tls tls) throws IOException {
    SslContextBuilder b = GrpcSslContexts.forServer(tls.cert().toFile(), tls.key().toFile());
    if (tls.clientCa() != null) {
      b.trustManager(tls.clientCa().toFile()).clientAuth(ClientAuth.REQUIRE);
    }
    return b.build();
  }
}
