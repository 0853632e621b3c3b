package dev.tally.server.config;

import dev.tally.server.transport.ListenAddress;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Everything the server needs to know at start-up. Immutable; built by the CLI from flags, with
 * {@link #defaults()} for everything left out.
 *
 * @param listeners where to accept connections: TCP {@code HOST:PORT} or {@code unix:PATH}
 * @param samplerThreads threads that sample rows; defaults to the number of cores
 * @param maxRows the most rows one step may carry
 * @param maxVocabSize the largest vocabulary accepted
 * @param maxMessageBytes the largest inbound message; sized so that [maxRows × a 256k vocabulary]
 *     of float32 fits
 * @param maxTopLogprobs the most alternatives a row may ask for
 * @param maxSequencesPerSession the most sequences one Session may hold at once
 * @param flowControlWindow HTTP/2 window per stream: at least one large step, so a whole step can
 *     be in flight without waiting for WINDOW_UPDATE
 * @param shutdownGrace how long in-flight steps may take to finish on shutdown
 * @param stepDeadline how long the rows of one step may run: a row still running then fails with
 *     {@code DEADLINE_EXCEEDED}, the step is answered, and the row's thread is interrupted
 * @param pluginDirs plugin directories to load, in order (each subfolder or lone jar one plugin);
 *     empty for built-ins only
 * @param maxSessions the most {@code Session} streams open at once
 * @param socketMode the permissions of {@code unix:} socket files
 * @param insecure whether plaintext TCP listeners may bind to non-loopback addresses
 * @param tls TLS for TCP listeners, or {@code null} for plaintext
 * @param connectionLimits what one HTTP/2 connection may do (the transport's defences)
 * @param maxStepElements the most rows × vocabulary of one step, on either transport: the bound
 *     on a step's work ({@code maxRows} alone would let a 4,096-row step of a 1M vocabulary in)
 */
public record ServerConfig(
    List<ListenAddress> listeners,
    int samplerThreads,
    int maxRows,
    int maxVocabSize,
    int maxMessageBytes,
    int maxTopLogprobs,
    int maxSequencesPerSession,
    int flowControlWindow,
    Duration shutdownGrace,
    Duration stepDeadline,
    List<Path> pluginDirs,
    int maxSessions,
    Set<PosixFilePermission> socketMode,
    boolean insecure,
    Tls tls,
    ConnectionLimits connectionLimits,
    long maxStepElements) {

  /**
   * TLS for the TCP listeners: the server's certificate chain and key (PEM), and, for mutual TLS,
   * the CA bundle client certificates must chain to ({@code null}: no client certificate asked).
   */
  public record Tls(Path cert, Path key, Path clientCa) {
    public Tls {
      Objects.requireNonNull(cert, "cert");
      Objects.requireNonNull(key, "key");
    }
  }

  /**
   * The default {@link #maxStepElements()}: 2^27, e.g. 1,024 rows of Llama 3's 128,256 tokens (the
   * largest batches vLLM runs) or 4,096 of a 32,000-token vocabulary.
   */
  public static final long DEFAULT_MAX_STEP_ELEMENTS = 1L << 27;

  /** The default {@link #maxSessions()}. */
  public static final int DEFAULT_MAX_SESSIONS = 1024;

  /** The default {@link #socketMode()}: owner and group may connect. */
  public static final Set<PosixFilePermission> DEFAULT_SOCKET_MODE =
      PosixFilePermissions.fromString("rw-rw----");

  /** The default {@link #stepDeadline()}: generous, since a healthy step takes milliseconds. */
  public static final Duration DEFAULT_STEP_DEADLINE = Duration.ofSeconds(10);

  public ServerConfig {
    listeners = List.copyOf(listeners);
    pluginDirs = List.copyOf(pluginDirs);
    socketMode = Set.copyOf(Objects.requireNonNull(socketMode, "socketMode"));
    Objects.requireNonNull(connectionLimits, "connectionLimits");
    if (maxStepElements < 1) {
      throw new IllegalArgumentException("max step elements must be positive: " + maxStepElements);
    }
    if (maxSessions < 1) {
      throw new IllegalArgumentException("max sessions must be positive: " + maxSessions);
    }
    Objects.requireNonNull(shutdownGrace, "shutdownGrace");
    Objects.requireNonNull(stepDeadline, "stepDeadline");
    if (stepDeadline.isNegative() || stepDeadline.isZero()) {
      throw new IllegalArgumentException("the step deadline must be positive: " + stepDeadline);
    }
    if (listeners.isEmpty()) {
      throw new IllegalArgumentException("at least one listener is needed");
    }
    if (samplerThreads < 1 || maxRows < 1 || maxVocabSize < 1 || maxTopLogprobs < 0
        || maxSequencesPerSession < 1 || maxMessageBytes < 1024 || flowControlWindow < 65535) {
      throw new IllegalArgumentException("server limits must be positive: " + this);
    }
  }

  /** The settings before plugins and step deadlines existed: the default deadline, no plugins. */
  public ServerConfig(List<ListenAddress> listeners, int samplerThreads, int maxRows,
      int maxVocabSize, int maxMessageBytes, int maxTopLogprobs, int maxSequencesPerSession,
      int flowControlWindow, Duration shutdownGrace) {
    this(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes, maxTopLogprobs,
        maxSequencesPerSession, flowControlWindow, shutdownGrace, DEFAULT_STEP_DEADLINE, List.of());
  }

  /** The settings before sessions were limited and TLS existed. */
  public ServerConfig(List<ListenAddress> listeners, int samplerThreads, int maxRows,
      int maxVocabSize, int maxMessageBytes, int maxTopLogprobs, int maxSequencesPerSession,
      int flowControlWindow, Duration shutdownGrace, Duration stepDeadline, List<Path> pluginDirs) {
    this(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes, maxTopLogprobs,
        maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline, pluginDirs,
        DEFAULT_MAX_SESSIONS, DEFAULT_SOCKET_MODE, false, null);
  }

  /** The settings before the connection limits existed: the default ones. */
  public ServerConfig(List<ListenAddress> listeners, int samplerThreads, int maxRows,
      int maxVocabSize, int maxMessageBytes, int maxTopLogprobs, int maxSequencesPerSession,
      int flowControlWindow, Duration shutdownGrace, Duration stepDeadline, List<Path> pluginDirs,
      int maxSessions, Set<PosixFilePermission> socketMode, boolean insecure, Tls tls) {
    this(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes, maxTopLogprobs,
        maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline, pluginDirs,
        maxSessions, socketMode, insecure, tls, ConnectionLimits.defaults(),
        DEFAULT_MAX_STEP_ELEMENTS);
  }

  /**
   * 127.0.0.1:50051, a thread per core, and limits that fit together: a step may carry as many
   * rows as a session may hold sequences (4,096), up to {@link #DEFAULT_MAX_STEP_ELEMENTS} of
   * work, and an inline message up to 64 MiB ([64 × 262,144] float32, [256 × 128,256] bfloat16);
   * larger steps go by shared memory.
   */
  public static ServerConfig defaults() {
    return new ServerConfig(
        List.of(ListenAddress.parse("127.0.0.1:50051")),
        Runtime.getRuntime().availableProcessors(),
        4096,
        1 << 20,
        // [64 × 262,144] float32 is 64 MiB; the slack covers the rest of the message.
        64 * 1024 * 1024 + 64 * 1024,
        20,
        4096,
        32 * 1024 * 1024,
        Duration.ofSeconds(10));
  }

  public ServerConfig withListeners(List<ListenAddress> listeners) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        pluginDirs, maxSessions, socketMode, insecure, tls, connectionLimits,
        maxStepElements);
  }

  public ServerConfig withSamplerThreads(int threads) {
    return new ServerConfig(listeners, threads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        pluginDirs, maxSessions, socketMode, insecure, tls, connectionLimits,
        maxStepElements);
  }

  /** The most rows × vocabulary of one step. */
  public ServerConfig withMaxStepElements(long max) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        pluginDirs, maxSessions, socketMode, insecure, tls, connectionLimits, max);
  }

  public ServerConfig withLimits(int maxRows, int maxVocabSize, int maxMessageBytes,
      int maxTopLogprobs, int maxSequencesPerSession) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        pluginDirs, maxSessions, socketMode, insecure, tls, connectionLimits,
        maxStepElements);
  }

  public ServerConfig withShutdownGrace(Duration grace) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, grace, stepDeadline, pluginDirs, maxSessions,
        socketMode, insecure, tls, connectionLimits,
        maxStepElements);
  }

  public ServerConfig withStepDeadline(Duration deadline) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, deadline,
        pluginDirs, maxSessions, socketMode, insecure, tls, connectionLimits,
        maxStepElements);
  }

  public ServerConfig withPluginDirs(List<Path> dirs) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        dirs, maxSessions, socketMode, insecure, tls, connectionLimits,
        maxStepElements);
  }

  public ServerConfig withMaxSessions(int max) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        pluginDirs, max, socketMode, insecure, tls, connectionLimits,
        maxStepElements);
  }

  public ServerConfig withSocketMode(Set<PosixFilePermission> mode) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        pluginDirs, maxSessions, mode, insecure, tls, connectionLimits,
        maxStepElements);
  }

  /** {@code insecure}: plaintext TCP listeners may bind to addresses other than loopback. */
  public ServerConfig withInsecure(boolean allow) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        pluginDirs, maxSessions, socketMode, allow, tls, connectionLimits,
        maxStepElements);
  }

  /** TLS for every TCP listener, or {@code null} for plaintext. */
  public ServerConfig withTls(Tls newTls) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        pluginDirs, maxSessions, socketMode, insecure, newTls, connectionLimits,
        maxStepElements);
  }

  /** The HTTP/2 defences of every listener. */
  public ServerConfig withConnectionLimits(ConnectionLimits limits) {
    return new ServerConfig(listeners, samplerThreads, maxRows, maxVocabSize, maxMessageBytes,
        maxTopLogprobs, maxSequencesPerSession, flowControlWindow, shutdownGrace, stepDeadline,
        pluginDirs, maxSessions, socketMode, insecure, tls, limits, maxStepElements);
  }
}
