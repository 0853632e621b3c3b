package dev.tally.server.cli;

import dev.tally.core.TallyVersion;
import dev.tally.server.config.ConnectionLimits;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.shm.SharedMemoryConfig;
import dev.tally.server.metrics.MetricsEndpoint;
import dev.tally.server.plugin.PluginLoadException;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.Security;
import dev.tally.server.transport.TallyServer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/**
 * {@code tally serve}: runs the server until SIGTERM or SIGINT, then shuts down gracefully.
 *
 * <p>Every option can also come from the environment ({@code TALLY_<OPTION>}) or a config file
 * ({@code --config FILE}); a flag wins over the environment, which wins over the file (see {@link
 * ConfigDefaults}).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the Tally server.",
    footer = {"", "Every option can also be set by the environment variable TALLY_<OPTION>"
        + " (e.g. TALLY_MAX_ROWS) or in a properties file (--config FILE or TALLY_CONFIG; e.g."
        + " max-rows = 64). Precedence: flag, then environment, then file, then default."})
final class ServeCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** Set by {@link TallyCommand#execute} when the CLI runs; null when built directly. */
  ConfigDefaults defaults;
  Map<String, String> env = System.getenv();
  PrintStream stdout = System.out;
  PrintStream stderr = System.err;

  @Option(names = "--config", paramLabel = "FILE",
      description = "A properties file of options (option-name = value); also $TALLY_CONFIG.")
  Path configFile;

  @Option(names = "--print-config",
      description = "Print the effective configuration, with where each value came from, and exit.")
  boolean printConfig;

  @Option(names = "--listen", paramLabel = "ADDRESS", split = ",",
      description = "Where to listen, repeatable: HOST:PORT or unix:PATH (default: 127.0.0.1:50051).")
  List<String> listen = new ArrayList<>();

  @Option(names = "--insecure",
      description = "Allow plaintext TCP listeners on non-loopback addresses (logged as a warning).")
  boolean insecure;

  @Option(names = "--tls-cert", paramLabel = "PEM",
      description = "Serve TCP listeners with TLS: the certificate chain (PEM).")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM",
      description = "The private key (PKCS#8 PEM) of --tls-cert.")
  Path tlsKey;

  @Option(names = "--tls-client-ca", paramLabel = "PEM",
      description = "Mutual TLS: require client certificates issued by these CAs (PEM).")
  Path tlsClientCa;

  @Option(names = "--socket-mode", paramLabel = "OCTAL",
      description = "Permissions of unix: socket files (default: ${DEFAULT-VALUE}).")
  String socketMode = "0660";

  @Option(names = "--metrics-listen", paramLabel = "HOST:PORT",
      description = "Serve Prometheus metrics at http://HOST:PORT/metrics (default: off).")
  String metricsListen;

  @Option(names = "--log-format", paramLabel = "FORMAT",
      description = "Log lines as 'text' or 'json' (default: ${DEFAULT-VALUE}).")
  String logFormat = "text";

  @Option(names = "--threads", paramLabel = "N",
      description = "Sampler threads (default: the number of cores).")
  Integer threads;

  @Option(names = "--max-sessions", paramLabel = "N",
      description = "Most Session streams open at once (default: ${DEFAULT-VALUE}).")
  int maxSessions = ServerConfig.DEFAULT_MAX_SESSIONS;

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

  @Option(names = "--max-step-elements", paramLabel = "N",
      description = "Most rows × vocabulary per step, on either transport (default:"
          + " ${DEFAULT-VALUE}).")
  long maxStepElements = ServerConfig.DEFAULT_MAX_STEP_ELEMENTS;

  @Option(names = "--shm-dir", paramLabel = "DIR",
      description = "Where shared-memory names live: a region key /NAME is the file DIR/NAME"
          + " (default: ${DEFAULT-VALUE}).")
  Path shmDir = SharedMemoryConfig.defaults().directory();

  @Option(names = "--max-shm-regions", paramLabel = "N",
      description = "Most shared-memory regions per connection or session (default: ${DEFAULT-VALUE}).")
  int maxShmRegions = SharedMemoryConfig.defaults().maxRegionsPerOwner();

  @Option(names = "--max-shm-bytes", paramLabel = "BYTES",
      description = "Most shared-memory bytes mapped at once, all clients (default: ${DEFAULT-VALUE}).")
  long maxShmBytes = SharedMemoryConfig.defaults().maxBytesMapped();

  @Option(names = "--shutdown-grace", paramLabel = "SECONDS",
      description = "How long in-flight steps may finish on shutdown (default: ${DEFAULT-VALUE}).")
  long shutdownGraceSeconds = ServerConfig.defaults().shutdownGrace().toSeconds();

  @Option(names = "--step-deadline", paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "How long the rows of one step may run, e.g. 10s, 500ms: a row still running"
          + " then fails with DEADLINE_EXCEEDED and the step is answered (default: 10s).")
  Duration stepDeadline = ServerConfig.DEFAULT_STEP_DEADLINE;

  // The HTTP/2 defences, per connection (ConnectionLimits; docs/operations.md, "Connection limits").

  @Option(names = "--max-concurrent-streams", paramLabel = "N",
      description = "Most streams (calls) open at once on one connection; more are refused and"
          + " the client queues them (default: ${DEFAULT-VALUE}).")
  int maxConcurrentStreams = ConnectionLimits.DEFAULT_MAX_CONCURRENT_STREAMS;

  @Option(names = "--max-rst-frames", paramLabel = "N",
      description = "Most RST_STREAM frames a client may send per --rst-window before its"
          + " connection is closed (rapid reset; default: ${DEFAULT-VALUE}).")
  int maxRstFrames = ConnectionLimits.DEFAULT_MAX_RST_FRAMES;

  @Option(names = "--rst-window", paramLabel = "DURATION", converter = Durations.Converter.class,
      description = "The window of --max-rst-frames, whole seconds (default: 30s).")
  Duration rstWindow = ConnectionLimits.DEFAULT_RST_WINDOW;

  @Option(names = "--max-header-list-bytes", paramLabel = "BYTES",
      description = "Largest header list (metadata) of one request (default: ${DEFAULT-VALUE}).")
  int maxHeaderListBytes = ConnectionLimits.DEFAULT_MAX_HEADER_LIST_BYTES;

  @Option(names = "--permit-keepalive-time", paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "Shortest interval at which a client may ping; faster pings close its"
          + " connection (default: 1m).")
  Duration permitKeepAliveTime = ConnectionLimits.DEFAULT_PERMIT_KEEPALIVE_TIME;

  @Option(names = "--permit-keepalive-without-calls",
      description = "Allow client pings at that rate while no call is open (default: off).")
  boolean permitKeepAliveWithoutCalls;

  @Option(names = "--max-connection-idle", paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "Close a connection that has had no call for this long (default: 30m).")
  Duration maxConnectionIdle = ConnectionLimits.DEFAULT_MAX_CONNECTION_IDLE;

  @Option(names = "--keepalive-time", paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "Ping a client whose connection has been silent this long (default: 5m).")
  Duration keepAliveTime = ConnectionLimits.DEFAULT_KEEPALIVE_TIME;

  @Option(names = "--keepalive-timeout", paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "Close the connection if that ping is not answered within this"
          + " (default: 20s).")
  Duration keepAliveTimeout = ConnectionLimits.DEFAULT_KEEPALIVE_TIMEOUT;

  @Option(names = "--plugin-dir", paramLabel = "DIR",
      description = "A plugin directory, repeatable: each subfolder (or lone jar) is one plugin."
          + " Default: $" + PluginDirs.ENV + " (a path list), else the 'plugins' folder"
          + " next to the server jar if there is one.")
  List<Path> pluginDirs = new ArrayList<>();

  /** Every problem of a configuration, each naming its option. */
  static final class ConfigException extends IllegalArgumentException {
    final List<String> problems;

    ConfigException(List<String> problems) {
      super("invalid configuration:\n  - " + String.join("\n  - ", problems));
      this.problems = List.copyOf(problems);
    }
  }

  @Override
  public Integer call() throws InterruptedException {
    ServerConfig config;
    try {
      config = config();
    } catch (ConfigException e) {
      stderr.println("tally serve: " + e.getMessage());
      return 2;
    }
    if (printConfig) {
      printConfig(stdout);
      return 0;
    }
    Logging.setFormat(logFormat);
    TallyServer server;
    try {
      server = Servers.create(config, new SharedMemoryConfig(shmDir, maxShmRegions, maxShmBytes))
          .start();
    } catch (PluginLoadException | IllegalArgumentException e) {
      log.error("cannot start: {}", e.getMessage());
      return 2;
    } catch (java.io.UncheckedIOException e) {
      log.error("cannot start: {}", e.getMessage());
      return 1;
    }
    MetricsEndpoint metrics = null;
    if (metricsListen != null) {
      try {
        Security.checkMetricsListener(ListenAddress.parse(metricsListen), insecure, log);
        metrics = MetricsEndpoint.start(metricsListen, server.metrics());
        log.info("metrics on http://{}/metrics", metrics.address());
      } catch (java.io.IOException | IllegalArgumentException e) {
        log.error("cannot serve metrics on {}: {}", metricsListen, e.getMessage());
        server.stop();
        return 1;
      }
    }
    log.info("Tally {} serving on {} with {} sampler threads, step deadline {}", TallyVersion.get(),
        server.transports(), config.samplerThreads(), Durations.format(config.stepDeadline()));
    if (config.pluginDirs().isEmpty()) {
      log.info("no plugin directory (see --plugin-dir, ${}); built-in processors only",
          PluginDirs.ENV);
    }
    CountDownLatch stopped = new CountDownLatch(1);
    MetricsEndpoint metricsToStop = metrics;
    Runnable stop = () -> {
      log.info("shutting down");
      server.stop();
      if (metricsToStop != null) {
        metricsToStop.close();
      }
      stopped.countDown();
    };
    // Our own handlers, not a shutdown hook: a hook would leave the exit status at 143.
    Signal.handle(new Signal("TERM"), s -> new Thread(stop, "tally-shutdown").start());
    Signal.handle(new Signal("INT"), s -> new Thread(stop, "tally-shutdown").start());
    stopped.await();
    log.info("stopped");
    return 0;
  }

  /**
   * The server config these options describe.
   *
   * @throws ConfigException listing every problem at once, each naming its option
   */
  ServerConfig config() {
    List<String> problems = new ArrayList<>();
    if (defaults != null && spec != null) {
      problems.addAll(defaults.unknownFileKeys(spec));
      problems.addAll(defaults.invalidValues());
    }
    problems.addAll(parseErrors());
    ServerConfig base = ServerConfig.defaults();
    List<ListenAddress> listeners = new ArrayList<>();
    for (String l : listen) {
      try {
        listeners.add(ListenAddress.parse(l.trim()));
      } catch (IllegalArgumentException e) {
        problems.add("--listen: " + e.getMessage());
      }
    }
    positive(problems, "--threads", threads == null ? 1 : threads);
    positive(problems, "--max-sessions", maxSessions);
    positive(problems, "--max-rows", maxRows);
    positive(problems, "--max-vocab-size", maxVocabSize);
    positive(problems, "--max-sequences", maxSequences);
    positive(problems, "--max-step-elements", maxStepElements);
    positive(problems, "--max-shm-regions", maxShmRegions);
    if (maxShmBytes < 1) {
      problems.add("--max-shm-bytes must be positive, got " + maxShmBytes);
    }
    if (!shmDir.equals(SharedMemoryConfig.defaults().directory())
        && !java.nio.file.Files.isDirectory(shmDir)) {
      problems.add("--shm-dir " + shmDir + " is not a directory");
    }
    if (maxMessageBytes < 1024) {
      problems.add("--max-message-bytes must be at least 1024, got " + maxMessageBytes);
    }
    if (maxTopLogprobs < 0) {
      problems.add("--max-top-logprobs must not be negative, got " + maxTopLogprobs);
    }
    positive(problems, "--max-concurrent-streams", maxConcurrentStreams);
    positive(problems, "--max-rst-frames", maxRstFrames);
    if (rstWindow.toMillis() % 1000 != 0) {
      problems.add("--rst-window must be whole seconds, got " + Durations.format(rstWindow));
    }
    if (maxHeaderListBytes < 1024) {
      problems.add("--max-header-list-bytes must be at least 1024, got " + maxHeaderListBytes);
    }
    if (permitKeepAliveTime.compareTo(Duration.ofSeconds(1)) < 0) {
      problems.add("--permit-keepalive-time must be at least 1s, got "
          + Durations.format(permitKeepAliveTime));
    }
    if (shutdownGraceSeconds < 0) {
      problems.add("--shutdown-grace must not be negative, got " + shutdownGraceSeconds);
    }
    Set<PosixFilePermission> mode = ServerConfig.DEFAULT_SOCKET_MODE;
    try {
      mode = socketMode(socketMode);
    } catch (IllegalArgumentException e) {
      problems.add("--socket-mode: " + e.getMessage());
    }
    ServerConfig.Tls tls = null;
    if (tlsCert != null || tlsKey != null || tlsClientCa != null) {
      if (tlsCert == null) {
        problems.add("--tls-cert is required with --tls-key or --tls-client-ca");
      }
      if (tlsKey == null) {
        problems.add("--tls-key is required with --tls-cert or --tls-client-ca");
      }
      readable(problems, "--tls-cert", tlsCert);
      readable(problems, "--tls-key", tlsKey);
      readable(problems, "--tls-client-ca", tlsClientCa);
      if (tlsCert != null && tlsKey != null) {
        tls = new ServerConfig.Tls(tlsCert, tlsKey, tlsClientCa);
      }
    }
    if (metricsListen != null) {
      try {
        ListenAddress m = ListenAddress.parse(metricsListen);
        if (m.isUnix()) {
          problems.add("--metrics-listen must be HOST:PORT, got " + metricsListen);
        } else if (!insecure && !Security.isLoopback(m.host())) {
          problems.add(Security.metricsRefusal(m));
        }
      } catch (IllegalArgumentException e) {
        problems.add("--metrics-listen: " + e.getMessage());
      }
    }
    if (!logFormat.equals("text") && !logFormat.equals("json")) {
      problems.add("--log-format must be 'text' or 'json', got '" + logFormat + "'");
    }
    if (!insecure) {
      for (ListenAddress a : Security.plaintextNetworkListeners(listeners,
          tlsCert != null && tlsKey != null)) {
        problems.add(Security.refusal(a));
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    ServerConfig config = base
        .withListeners(listeners.isEmpty() ? base.listeners() : listeners)
        .withSamplerThreads(threads == null ? base.samplerThreads() : threads)
        .withLimits(maxRows, maxVocabSize, maxMessageBytes, maxTopLogprobs, maxSequences)
        .withMaxStepElements(maxStepElements)
        .withMaxSessions(maxSessions)
        .withShutdownGrace(Duration.ofSeconds(shutdownGraceSeconds))
        .withStepDeadline(stepDeadline)
        .withSocketMode(mode)
        .withInsecure(insecure)
        .withTls(tls)
        .withConnectionLimits(new ConnectionLimits(maxConcurrentStreams, maxRstFrames, rstWindow,
            maxHeaderListBytes, permitKeepAliveTime, permitKeepAliveWithoutCalls,
            maxConnectionIdle, keepAliveTime, keepAliveTimeout))
        .withPluginDirs(PluginDirs.resolve(pluginDirs, env.get(PluginDirs.ENV),
            PluginDirs.jarDirectory()));
    return config;
  }

  /**
   * The values picocli could not take (a flag, an environment variable or a file key that is not
   * a number, a duration...), when it was told to collect them rather than stop at the first.
   * Each names its option and, for a value not given as a flag, where it came from. The option
   * then keeps its default, so the checks below do not report it a second time.
   */
  private List<String> parseErrors() {
    CommandLine.ParseResult parsed = spec == null ? null : spec.commandLine().getParseResult();
    if (parsed == null) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (Exception e : parsed.errors()) {
      if (!(e instanceof CommandLine.ParameterException p)
          || !(p.getArgSpec() instanceof OptionSpec option)) {
        out.add(e.getMessage()); // an unknown option or a stray argument: picocli's words
        continue;
      }
      String name = option.longestName();
      String where = "";
      if (!givenAsFlag(parsed, option) && defaults != null && defaults.source(name) != null) {
        where = " (" + defaults.source(name) + ")";
      }
      String message = p.getMessage();
      // "Invalid value for option '--max-rows': 'abc' is not an int": keep what follows the name
      String prefix = "'" + name + "': ";
      int at = message.indexOf(prefix);
      String reason = at >= 0 ? message.substring(at + prefix.length()) : message;
      reason = reason.replaceFirst(" is not an? (int|long)$", " is not an integer");
      out.add(name + where + ": " + reason);
    }
    return out;
  }

  private static boolean givenAsFlag(CommandLine.ParseResult parsed, OptionSpec option) {
    for (String arg : parsed.originalArgs()) {
      for (String n : option.names()) {
        if (arg.equals(n) || arg.startsWith(n + "=")) {
          return true;
        }
      }
    }
    return false;
  }

  private static void positive(List<String> problems, String option, long value) {
    if (value < 1) {
      problems.add(option + " must be positive, got " + value);
    }
  }

  private static void readable(List<String> problems, String option, Path file) {
    if (file != null && !Files.isReadable(file)) {
      problems.add(option + ": cannot read " + file);
    }
  }

  /** {@code 0660}, {@code 660}: the read and write bits of owner, group and others. */
  static Set<PosixFilePermission> socketMode(String octal) {
    int bits;
    try {
      bits = Integer.parseInt(octal.trim(), 8);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + octal + "' is not an octal mode such as 0660");
    }
    if (bits < 0 || bits > 0777) {
      throw new IllegalArgumentException("'" + octal + "' is not an octal mode such as 0660");
    }
    PosixFilePermission[] order = {
      PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
      PosixFilePermission.OWNER_READ};
    Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
    for (int i = 0; i < order.length; i++) {
      if ((bits & (1 << i)) != 0) {
        out.add(order[i]);
      }
    }
    return out;
  }

  /** One line per option: {@code name = value  # source} (flag, env VAR, file PATH, default). */
  void printConfig(PrintStream out) {
    CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
    for (OptionSpec o : spec.options()) {
      String name = o.longestName();
      if (o.usageHelp() || o.versionHelp() || name.equals("--print-config")) {
        continue;
      }
      String source;
      if (parsed != null && parsed.hasMatchedOption(name)) {
        source = "flag";
      } else if (defaults != null && defaults.source(name) != null) {
        source = defaults.source(name);
      } else {
        source = "default";
      }
      Object value = o.getValue();
      String text;
      if (value instanceof List<?> list) {
        text = list.isEmpty() ? "" : list.stream().map(String::valueOf)
            .reduce((a, b) -> a + "," + b).orElse("");
      } else {
        text = value == null ? "" : String.valueOf(value);
      }
      if (value instanceof Duration d) {
        text = Durations.format(d);
      }
      if (name.equals("--threads") && value == null) {
        text = String.valueOf(Runtime.getRuntime().availableProcessors());
      }
      out.println(name.substring(2) + " = " + text + "  # " + source);
    }
  }
}
