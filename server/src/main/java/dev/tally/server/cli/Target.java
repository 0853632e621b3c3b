package dev.tally.server.cli;

import dev.tally.server.transport.ListenAddress;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.ssl.SslContext;
import java.util.concurrent.TimeUnit;

/** A client channel to a running server, {@code HOST:PORT} or {@code unix:PATH}; closes both. */
final class Target implements AutoCloseable {
  final ManagedChannel channel;
  private final EventLoopGroup group;

  private Target(ManagedChannel channel, EventLoopGroup group) {
    this.channel = channel;
    this.group = group;
  }

  static Target connect(String text) {
    return connect(text, null);
  }

  /** With {@code ssl} non-null, a TCP target is reached over TLS; Unix sockets never use TLS. */
  static Target connect(String text, SslContext ssl) {
    ListenAddress address = ListenAddress.parse(text);
    if (address.isUnix() && ssl != null) {
      throw new IllegalArgumentException("unix: targets do not use TLS; drop the --tls options");
    }
    if (ssl != null) {
      return new Target(NettyChannelBuilder.forTarget(address.toString()).sslContext(ssl).build(),
          null);
    }
    if (address.isUnix()) {
      if (!Epoll.isAvailable()) {
        throw new IllegalArgumentException("unix: targets need Netty's epoll transport, which is"
            + " not available here");
      }
      EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
      ManagedChannel channel = NettyChannelBuilder
          .forAddress(new DomainSocketAddress(address.socketPath().toString()))
          .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
      return new Target(channel, group);
    }
    return new Target(NettyChannelBuilder.forTarget(address.toString()).usePlaintext().build(),
        null);
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}
