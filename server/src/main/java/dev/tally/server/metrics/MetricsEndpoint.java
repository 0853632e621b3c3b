package dev.tally.server.metrics;

import com.sun.net.httpserver.HttpServer;
import dev.tally.server.transport.ListenAddress;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** {@code GET /metrics} in the Prometheus text format, on the JDK's HTTP server. */
public final class MetricsEndpoint implements AutoCloseable {
  private final HttpServer http;
  private final ExecutorService executor;

  private MetricsEndpoint(HttpServer http, ExecutorService executor) {
    this.http = http;
    this.executor = executor;
  }

  /** Serves {@code metrics} at {@code HOST:PORT} (port 0: any free port). */
  public static MetricsEndpoint start(String hostPort, TallyMetrics metrics) throws IOException {
    ListenAddress address = ListenAddress.parse(hostPort);
    if (address.isUnix()) {
      throw new IOException("--metrics-listen must be HOST:PORT");
    }
    String host = address.host();
    int port = Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
    HttpServer http = HttpServer.create(new InetSocketAddress(host, port), 16);
    http.createContext("/metrics", exchange -> {
      try (exchange) {
        if (!exchange.getRequestMethod().equals("GET")
            && !exchange.getRequestMethod().equals("HEAD")) {
          exchange.sendResponseHeaders(405, -1);
          return;
        }
        String text = metrics.scrape();
        byte[] body = (text == null ? "" : text).getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type",
            "text/plain; version=0.0.4; charset=utf-8");
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }
    });
    ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "tally-metrics");
      t.setDaemon(true);
      return t;
    });
    http.setExecutor(executor);
    http.start();
    return new MetricsEndpoint(http, executor);
  }

  /** Where it listens, {@code HOST:PORT} with the actual port. */
  public String address() {
    InetSocketAddress a = http.getAddress();
    return a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  public int port() {
    return http.getAddress().getPort();
  }

  @Override
  public void close() {
    http.stop(0);
    executor.shutdownNow();
  }
}
