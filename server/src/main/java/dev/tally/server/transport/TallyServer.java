package dev.tally.server.transport;

import dev.tally.server.config.ServerConfig;
import dev.tally.server.exec.SamplerPool;
import dev.tally.server.grpc.SamplerDefinition;
import dev.tally.server.grpc.SamplerService;
import dev.tally.server.grpc.ServerInfoSource;
import dev.tally.server.grpc.SessionTracker;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import dev.tally.server.metrics.PeerInterceptor;
import dev.tally.server.metrics.TallyMetrics;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.NettyServerBuilder;
import dev.tally.server.shm.ConnectionRegions;
import dev.tally.server.shm.SharedMemory;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC servers, one per listener, sharing services, event loops and the sampler pool; and
 * their lifecycle. Netty event loops only move bytes: handlers run on a small executor and
 * sampling on the {@link SamplerPool}.
 *
 * <p>Shutdown order: health NOT_SERVING, stop accepting calls, let sessions answer the step in
 * flight and close, wait up to the grace period, cancel what is left, stop the pools, remove the
 * socket files.
 */
public final class TallyServer {
  private static final Logger log = LoggerFactory.getLogger(TallyServer.class);
  private static final long WARMUP_MILLIS = 8_000;

  private final ServerConfig config;
  private final SamplerService service;
  private final SamplerPool pool;
  private final SessionTracker sessions;
  private final ServerInfoSource info;
  private final TallyMetrics metrics;
  private final ConnectionRegions connectionRegions;
  // One for all listeners: it holds the rate limit of the malformed-request log line.
  private final ServerServiceDefinition sampler;
  private final HealthStatusManager health = new HealthStatusManager();
  private final List<Server> servers = new ArrayList<>();
  private final List<SocketAddress> bound = new ArrayList<>();
  private EventLoopGroup boss;
  private EventLoopGroup workers;
  private ExecutorService handlers;

  @Inject
  TallyServer(ServerConfig config, SamplerService service, SamplerPool pool,
      SessionTracker sessions, ServerInfoSource info, TallyMetrics metrics,
      SharedMemory sharedMemory) {
    this.metrics = metrics;
    this.connectionRegions = new ConnectionRegions(sharedMemory);
    this.config = config;
    this.service = service;
    this.pool = pool;
    this.sessions = sessions;
    this.info = info;
    this.sampler = ServerInterceptors.intercept(
        SamplerDefinition.bind(service, config.maxMessageBytes(), metrics),
        new PeerInterceptor(), connectionRegions);
  }

  /**
   * Binds every listener and starts serving.
   *
   * @throws UncheckedIOException when a listener cannot bind; listeners already bound are closed
   */
  public synchronized TallyServer start() {
    Security.checkListeners(config, log);
    // Before any listener: the first steps of a cold JVM would otherwise take seconds (Warmup).
    long warmStart = System.nanoTime();
    int warmRows = dev.tally.core.engine.Warmup.once(WARMUP_MILLIS);
    if (warmRows > 0) {
      log.info("warmed up the sampling kernels: {} rows in {} ms", warmRows,
          (System.nanoTime() - warmStart) / 1_000_000);
    }
    boolean epoll = Epoll.isAvailable();
    boss = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory()
        : NioIoHandler.newFactory());
    workers = new MultiThreadIoEventLoopGroup(Math.max(2, config.samplerThreads()),
        epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    AtomicInteger n = new AtomicInteger();
    handlers = Executors.newFixedThreadPool(Math.max(2, config.samplerThreads()), r -> {
      Thread t = new Thread(r, "tally-grpc-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    try {
      for (ListenAddress address : config.listeners()) {
        Server server = build(address, epoll).start();
        if (address.isUnix()) {
          Files.setPosixFilePermissions(address.socketPath(), config.socketMode());
        }
        servers.add(server);
        SocketAddress actual = server.getListenSockets().get(0);
        bound.add(actual);
        info.addTransport(describe(address, actual));
        log.info("listening on {}", describe(address, actual));
      }
    } catch (IOException e) {
      stop();
      throw new UncheckedIOException("cannot listen: " + e.getMessage(), e);
    }
    dev.tally.core.kernel.Kernels.Selection.log(log);
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(dev.tally.api.v1.SamplerGrpc.SERVICE_NAME, ServingStatus.SERVING);
    return this;
  }

  private Server build(ListenAddress address, boolean epoll) throws IOException {
    Class<? extends ServerChannel> channel;
    if (address.isUnix()) {
      if (!epoll) {
        throw new IOException("unix: listeners need Netty's epoll transport, which is not"
            + " available on this platform");
      }
      if (Files.exists(address.socketPath())) {
        // A stale socket from a previous run would make bind fail; only ever remove a socket.
        if (!Files.isDirectory(address.socketPath()) && !Files.isRegularFile(address.socketPath())) {
          Files.delete(address.socketPath());
        } else {
          throw new IOException(address + ": the path exists and is not a socket");
        }
      }
      channel = EpollServerDomainSocketChannel.class;
    } else {
      channel = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }
    NettyServerBuilder builder = NettyServerBuilder.forAddress(address.socketAddress());
    builder.protocolNegotiator(new CompositeCumulation(!address.isUnix() && config.tls() != null
        ? InternalProtocolNegotiators.serverTls(Security.serverContext(config.tls()))
        : InternalProtocolNegotiators.serverPlaintext()));
    ConnectionDefences.apply(builder, config.connectionLimits());
    return builder
        .channelType(channel)
        .bossEventLoopGroup(boss)
        .workerEventLoopGroup(workers)
        .executor(handlers)
        // Above Tally's own limit, so that Tally refuses with its error (RequestGuard).
        .maxInboundMessageSize(SamplerDefinition.transportLimit(config.maxMessageBytes()))
        .flowControlWindow(config.flowControlWindow())
        // Each connection's shared-memory regions live and die with it.
        .addTransportFilter(connectionRegions)
        .addService(sampler)
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .build();
  }

  private static String describe(ListenAddress configured, SocketAddress actual) {
    if (configured.isUnix()) {
      return configured.toString();
    }
    InetSocketAddress inet = (InetSocketAddress) actual;
    String host = inet.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + inet.getPort();
  }

  /** The server's meters, for the metrics endpoint. */
  public TallyMetrics metrics() {
    return metrics;
  }

  /** The addresses the listeners are bound to, in listener order (ports resolved). */
  public synchronized List<SocketAddress> boundAddresses() {
    return List.copyOf(bound);
  }

  /** Where the listeners are, as clients would name them (ports resolved). */
  public List<String> transports() {
    return info.transports();
  }

  /** The TCP port of the first TCP listener, or -1. */
  public synchronized int tcpPort() {
    for (SocketAddress a : bound) {
      if (a instanceof InetSocketAddress) {
        return ((InetSocketAddress) a).getPort();
      }
    }
    return -1;
  }

  /** Graceful shutdown; safe to call more than once. */
  public synchronized void stop() {
    health.enterTerminalState();
    for (Server s : servers) {
      s.shutdown();
    }
    sessions.drainAll();
    long deadline = System.nanoTime() + config.shutdownGrace().toNanos();
    for (Server s : servers) {
      try {
        long left = deadline - System.nanoTime();
        if (!s.awaitTermination(Math.max(0, left), TimeUnit.NANOSECONDS)) {
          log.warn("in-flight calls did not finish within {}; cancelling them",
              config.shutdownGrace());
          s.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        s.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    pool.close();
    if (handlers != null) {
      handlers.shutdownNow();
    }
    if (workers != null) {
      workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
      boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
    for (ListenAddress address : config.listeners()) {
      if (address.isUnix()) {
        try {
          Files.deleteIfExists(address.socketPath());
        } catch (IOException e) {
          log.warn("cannot remove {}: {}", address.socketPath(), e.getMessage());
        }
      }
    }
    servers.clear();
  }

  /** Blocks until every listener has terminated. */
  public void awaitTermination() throws InterruptedException {
    List<Server> copy;
    synchronized (this) {
      copy = List.copyOf(servers);
    }
    for (Server s : copy) {
      s.awaitTermination();
    }
  }
}
