package dev.tally.server.cli;

import dev.tally.core.TallyVersion;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.plugin.PluginLoadException;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.TallyServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/** {@code tally serve}: runs the server until SIGTERM or SIGINT, then shuts down gracefully. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the Tally server.")
final class ServeCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  @Option(names = "--listen", paramLabel = "ADDRESS",
      description = "Where to listen, repeatable: HOST:PORT or unix:PATH (default: 127.0.0.1:50051).")
  List<String> listen = new ArrayList<>();

  @Option(names = "--threads", paramLabel = "N",
      description = "Sampler threads (default: the number of cores).")
  Integer threads;

  @Option(names = "--max-rows", paramLabel = "N", description = "Most rows per step (default: ${DEFAULT-VALUE}).")
  int maxRows = ServerConfig.defaults().maxRows();

  @Option(names = "--max-vocab-size", paramLabel = "N",
      description = "Largest vocabulary accepted (default: ${DEFAULT-VALUE}).")
  int maxVocabSize = ServerConfig.defaults().maxVocabSize();

  @Option(names = "--max-message-bytes", paramLabel = "BYTES",
      description = "Largest inbound message (default: ${DEFAULT-VALUE}).")
  int maxMessageBytes = ServerConfig.defaults().maxMessageBytes();

  @Option(names = "--max-top-logprobs", paramLabel = "N",
      description = "Most top_logprobs per row (default: ${DEFAULT-VALUE}).")
  int maxTopLogprobs = ServerConfig.defaults().maxTopLogprobs();

  @Option(names = "--max-sequences", paramLabel = "N",
      description = "Most sequences per session (default: ${DEFAULT-VALUE}).")
  int maxSequences = ServerConfig.defaults().maxSequencesPerSession();

  @Option(names = "--shutdown-grace", paramLabel = "SECONDS",
      description = "How long in-flight steps may finish on shutdown (default: ${DEFAULT-VALUE}).")
  long shutdownGraceSeconds = ServerConfig.defaults().shutdownGrace().toSeconds();

  @Option(names = "--step-deadline", paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "How long the rows of one step may run, e.g. 10s, 500ms: a row still running"
          + " then fails with DEADLINE_EXCEEDED and the step is answered (default: 10s).")
  Duration stepDeadline = ServerConfig.DEFAULT_STEP_DEADLINE;

  @Option(names = "--plugin-dir", paramLabel = "DIR",
      description = "A plugin directory, repeatable: each subfolder (or lone jar) is one plugin."
          + " Default: $" + PluginDirs.ENV + " (a path list), else the 'plugins' folder"
          + " next to the server jar if there is one.")
  List<Path> pluginDirs = new ArrayList<>();

  @Override
  public Integer call() throws InterruptedException {
    ServerConfig config = config();
    TallyServer server;
    try {
      server = Servers.create(config).start();
    } catch (PluginLoadException e) {
      log.error("cannot start: {}", e.getMessage());
      return 2;
    }
    log.info("Tally {} serving on {} with {} sampler threads, step deadline {}", TallyVersion.get(),
        server.transports(), config.samplerThreads(), Durations.format(config.stepDeadline()));
    if (config.pluginDirs().isEmpty()) {
      log.info("no plugin directory (see --plugin-dir, ${}); built-in processors only",
          PluginDirs.ENV);
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runnable stop = () -> {
      log.info("shutting down");
      server.stop();
      stopped.countDown();
    };
    // Our own handlers, not a shutdown hook: a hook would leave the exit status at 143.
    Signal.handle(new Signal("TERM"), s -> new Thread(stop, "tally-shutdown").start());
    Signal.handle(new Signal("INT"), s -> new Thread(stop, "tally-shutdown").start());
    stopped.await();
    log.info("stopped");
    return 0;
  }

  ServerConfig config() {
    ServerConfig defaults = ServerConfig.defaults();
    List<ListenAddress> listeners = new ArrayList<>();
    for (String l : listen) {
      listeners.add(ListenAddress.parse(l));
    }
    return defaults
        .withListeners(listeners.isEmpty() ? defaults.listeners() : listeners)
        .withSamplerThreads(threads == null ? defaults.samplerThreads() : threads)
        .withLimits(maxRows, maxVocabSize, maxMessageBytes, maxTopLogprobs, maxSequences)
        .withShutdownGrace(Duration.ofSeconds(shutdownGraceSeconds))
        .withStepDeadline(stepDeadline)
        .withPluginDirs(PluginDirs.resolve(pluginDirs, System.getenv(PluginDirs.ENV),
            PluginDirs.jarDirectory()));
  }
}
