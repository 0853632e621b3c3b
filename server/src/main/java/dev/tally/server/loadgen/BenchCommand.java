package dev.tally.server.loadgen;

import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.TallyServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tally bench}: the end-to-end load generator. Drives {@code Session} streams with
 * [batch × vocab] logits steps and reports step latency percentiles, steps/s and GB/s of logits.
 * Without {@code --target} it starts a server in this JVM on a temporary Unix socket (then client
 * and server share the cores; point it at a separate {@code tally serve} for clean figures).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Load-test a Tally server with Session steps and report latency and throughput.")
public final class BenchCommand implements Callable<Integer> {
  @Option(names = "--target", paramLabel = "ADDRESS",
      description = "Server to load: unix:PATH or HOST:PORT (default: start one in this JVM).")
  String target;

  @Option(names = "--transport", description = "With no --target: uds or tcp (default: ${DEFAULT-VALUE}).")
  String transport = "uds";

  @Option(names = "--sessions",
      description = "Concurrent Session streams (default: 1; with --soak: 64).")
  Integer sessions;

  @Option(names = "--soak", description = "Soak test: random adds, removes and row orders on many"
      + " sessions over the Unix socket and TCP, every response checked, then each session"
      + " replayed alone and compared token for token; reports heap, direct memory and RSS."
      + " Uses --sessions, --duration (default 60 s) and --soak-vocab; exit 1 on any mismatch.")
  boolean soak;

  @Option(names = "--soak-vocab", description = "Vocabulary of the soak's steps (default: ${DEFAULT-VALUE}).")
  int soakVocab = 2048;

  @Option(names = "--soak-max-rows", description = "Most rows per soak step (default: ${DEFAULT-VALUE}).")
  int soakMaxRows = 8;

  @Option(names = "--seed", description = "Soak random seed (default: ${DEFAULT-VALUE}).")
  long seed = 1;

  @Option(names = "--batch", description = "Rows per step (default: ${DEFAULT-VALUE}).")
  int batch = 32;

  @Option(names = "--vocab", description = "Vocabulary size (default: ${DEFAULT-VALUE}).")
  int vocab = 128256;

  @Option(names = "--dtype", description = "float32, float16 or bfloat16 (default: ${DEFAULT-VALUE}).")
  String dtype = "bfloat16";

  @Option(names = "--chain", description = "default, greedy or top_p (default: ${DEFAULT-VALUE}).")
  String chain = "default";

  @Option(names = "--duration", description = "Measured seconds (default: 20; with --soak: 60).")
  Double durationSeconds;

  @Option(names = "--warmup", description = "Unmeasured seconds first (default: ${DEFAULT-VALUE}).")
  double warmupSeconds = 5;

  @Option(names = "--shared-memory", description = "Write each step into a /dev/shm region"
      + " registered by the session and send only its place (server on this host, JDK 22+).")
  boolean sharedMemory;

  @Option(names = "--json", paramLabel = "FILE", description = "Write the results as JSON.")
  Path json;

  @Option(names = "--chart", paramLabel = "FILE", description = "Draw p50/p99 over time as PNG.")
  Path chart;

  @Override
  public Integer call() throws Exception {
    if (soak) {
      return soak();
    }
    int sessions = this.sessions == null ? 1 : this.sessions;
    double durationSeconds = this.durationSeconds == null ? 20 : this.durationSeconds;
    LoadPlan plan = new LoadPlan(sessions, batch, vocab, LoadPlan.dtype(dtype),
        LoadPlan.params(chain), Duration.ofMillis((long) (warmupSeconds * 1000)),
        Duration.ofMillis((long) (durationSeconds * 1000)), sharedMemory);
    TallyServer server = null;
    Path dir = null;
    String address = target;
    if (address == null) {
      dir = Files.createTempDirectory("tally-bench-");
      String listen = transport.equals("tcp") ? "127.0.0.1:0" : "unix:" + dir.resolve("tally.sock");
      server = Servers.create(ServerConfig.defaults()
          .withListeners(List.of(ListenAddress.parse(listen)))).start();
      address = server.transports().get(0);
    }
    try {
      System.err.printf("tally bench: %s, %d session(s) × [%d × %d] %s, chain %s, %s, %.0f s"
          + " (+%.0f s warm-up)%n", address, sessions, batch, vocab, dtype, chain,
          sharedMemory ? "shared memory" : "inline", durationSeconds, warmupSeconds);
      BenchResult result = new LoadGenerator(plan, address).run(System.err);
      System.out.println(result.summary());
      if (json != null) {
        Files.writeString(json, result.toJson(address, plan));
      }
      if (chart != null) {
        LatencyChart.write(result, chart,
            String.format("Tally %s: %d × [%d × %d] %s, chain %s, %s", address, sessions, batch,
                vocab, dtype, chain, sharedMemory ? "shared memory" : "inline"));
      }
      return result.errors() == 0 ? 0 : 1;
    } finally {
      if (server != null) {
        server.stop();
      }
      if (dir != null) {
        Files.deleteIfExists(dir.resolve("tally.sock"));
        Files.deleteIfExists(dir);
      }
    }
  }

  /** {@code --soak}: without --target, an in-JVM server on a Unix socket and TCP. */
  private int soak() throws Exception {
    int sessions = this.sessions == null ? 64 : this.sessions;
    double seconds = this.durationSeconds == null ? 60 : this.durationSeconds;
    TallyServer server = null;
    Path dir = null;
    List<String> targets;
    if (target == null) {
      dir = Files.createTempDirectory("tally-soak-");
      server = Servers.create(ServerConfig.defaults().withListeners(List.of(
          ListenAddress.parse("unix:" + dir.resolve("tally.sock")),
          ListenAddress.parse("127.0.0.1:0")))).start();
      targets = server.transports();
    } else {
      targets = List.of(target);
    }
    try {
      System.err.printf("tally bench --soak: %s, %d sessions, vocab %d, up to %d rows, %.0f s%n",
          targets, sessions, soakVocab, soakMaxRows, seconds);
      SoakRunner.Result result = new SoakRunner(new SoakRunner.Plan(sessions, soakVocab,
          soakMaxRows, Duration.ofMillis((long) (seconds * 1000)), seed), targets)
          .run(System.err);
      System.out.print(result.summary());
      if (json != null) {
        Files.writeString(json, SoakRunner.toJson(result));
      }
      return result.errors() == 0 && result.mismatches() == 0 ? 0 : 1;
    } finally {
      if (server != null) {
        server.stop();
      }
      if (dir != null) {
        Files.deleteIfExists(dir.resolve("tally.sock"));
        Files.deleteIfExists(dir);
      }
    }
  }
}
