package dev.tally.server.cli;

import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tally health}: asks a server's {@code grpc.health.v1} service; exits 0 when SERVING, 1
 * when it answers anything else, 2 when it cannot be reached (for Docker HEALTHCHECK and scripts).
 * A TLS listener is checked with {@code --tls-ca} (and {@code --tls-cert}, {@code --tls-key} for
 * mutual TLS); a failed handshake counts as unreachable.
 */
@Command(name = "health", mixinStandardHelpOptions = true,
    description = "Exit 0 if the server at --target reports SERVING, non-zero otherwise.",
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {"0:SERVING", "1:the server answered, but not SERVING",
        "2:the server could not be reached in time"})
final class HealthCommand implements Callable<Integer> {
  @Option(names = "--target", paramLabel = "ADDRESS",
      description = "The server: HOST:PORT or unix:PATH (default: ${DEFAULT-VALUE}).")
  String target = "127.0.0.1:50051";

  @Option(names = "--service", paramLabel = "NAME",
      description = "The service to ask about (default: the whole server).")
  String service = "";

  @Option(names = "--timeout", paramLabel = "DURATION", converter = Durations.Converter.class,
      description = "How long to wait for an answer (default: 3s).")
  Duration timeout = Duration.ofSeconds(3);

  @Option(names = "--tls",
      description = "Connect with TLS, trusting the system's CAs (implied by the --tls-* options).")
  boolean tls;

  @Option(names = "--tls-ca", paramLabel = "PEM",
      description = "Connect with TLS, trusting the server certificates these CAs issued (PEM).")
  Path tlsCa;

  @Option(names = "--tls-cert", paramLabel = "PEM",
      description = "Mutual TLS: the client certificate chain to present (PEM); needs --tls-key.")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM",
      description = "The private key (PKCS#8 PEM) of --tls-cert.")
  Path tlsKey;

  PrintStream out = System.out;

  @Override
  public Integer call() throws InterruptedException {
    SslContext ssl;
    try {
      ssl = sslContext();
    } catch (IllegalArgumentException | IOException e) {
      out.println(target + ": " + e.getMessage());
      return 2;
    }
    try (Target t = Target.connect(target, ssl)) {
      HealthCheckResponse r = HealthGrpc.newBlockingStub(t.channel)
          .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .check(HealthCheckRequest.newBuilder().setService(service).build());
      out.println(target + ": " + r.getStatus());
      return r.getStatus() == HealthCheckResponse.ServingStatus.SERVING ? 0 : 1;
    } catch (StatusRuntimeException e) {
      out.println(target + ": " + e.getStatus().getCode()
          + (e.getStatus().getDescription() == null ? "" : " (" + e.getStatus().getDescription()
              + ")"));
      return switch (e.getStatus().getCode()) {
        case UNAVAILABLE, DEADLINE_EXCEEDED -> 2;
        default -> 1;
      };
    } catch (IllegalArgumentException e) {
      out.println(target + ": " + e.getMessage());
      return 2;
    }
  }

  /** The client side of TLS, as {@code serve}'s TLS options describe the server side; or null. */
  private SslContext sslContext() throws IOException {
    if (!tls && tlsCa == null && tlsCert == null && tlsKey == null) {
      return null;
    }
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together");
    }
    SslContextBuilder b = GrpcSslContexts.forClient();
    if (tlsCa != null) {
      b.trustManager(readable("--tls-ca", tlsCa).toFile());
    }
    if (tlsCert != null) {
      b.keyManager(readable("--tls-cert", tlsCert).toFile(),
          readable("--tls-key", tlsKey).toFile());
    }
    return b.build();
  }

  private static Path readable(String option, Path file) {
    if (!Files.isReadable(file)) {
      throw new IllegalArgumentException(option + ": cannot read " + file);
    }
    return file;
  }
}
