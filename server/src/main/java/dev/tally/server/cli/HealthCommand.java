package dev.tally.server.cli;

import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tally health}: asks a server's {@code grpc.health.v1} service; exits 0 when SERVING, 1
 * when it answers anything else, 2 when it cannot be reached (for Docker HEALTHCHECK and scripts).
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

  PrintStream out = System.out;

  @Override
  public Integer call() throws InterruptedException {
    try (Target t = Target.connect(target)) {
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
}
