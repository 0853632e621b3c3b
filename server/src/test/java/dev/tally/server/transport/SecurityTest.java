package dev.tally.server.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.ServerInfo;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS, mutual TLS, the loopback rule and the Unix socket's mode, on real listeners. */
final class SecurityTest {
  @TempDir static Path dir;
  static TestCerts server;
  static TestCerts client;

  @BeforeAll
  static void certificates() throws Exception {
    server = TestCerts.selfSigned(dir, "tally-server");
    client = TestCerts.selfSigned(dir, "model-server");
  }

  private static ServerConfig config(String... listeners) {
    return ServerConfig.defaults().withSamplerThreads(2)
        .withListeners(List.of(listeners).stream().map(ListenAddress::parse).toList());
  }

  private static ServerInfo info(ManagedChannel channel) {
    try {
      return SamplerGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
          .getServerInfo(GetServerInfoRequest.getDefaultInstance());
    } finally {
      channel.shutdownNow();
    }
  }

  private static ManagedChannel tls(int port, boolean withClientCert) throws Exception {
    SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(server.cert.toFile());
    if (withClientCert) {
      ssl.keyManager(client.cert.toFile(), client.key.toFile());
    }
    return NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(ssl.build()).build();
  }

  @Test
  void plaintextOnANonLoopbackAddressIsRefusedWithoutInsecure() {
    assertThatThrownBy(() -> Servers.create(config("0.0.0.0:0")).start())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--listen 0.0.0.0:0 is not a loopback address: serve it with TLS (--tls-cert,"
            + " --tls-key) or allow plaintext with --insecure");
    TallyServer s = Servers.create(config("0.0.0.0:0").withInsecure(true)).start();
    try {
      ManagedChannel c = NettyChannelBuilder.forAddress("127.0.0.1", s.tcpPort()).usePlaintext()
          .build();
      assertThat(info(c).getVersion()).isNotEmpty();
    } finally {
      s.stop();
    }
  }

  @Test
  void tlsHandshakeSucceedsAndPlaintextClientsAreTurnedAway() throws Exception {
    TallyServer s = Servers.create(config("0.0.0.0:0")
        .withTls(new ServerConfig.Tls(server.cert, server.key, null))).start();
    try {
      assertThat(info(tls(s.tcpPort(), false)).getVersion()).isNotEmpty();
      ManagedChannel plain = NettyChannelBuilder.forAddress("127.0.0.1", s.tcpPort())
          .usePlaintext().build();
      assertThatThrownBy(() -> info(plain)).isInstanceOf(StatusRuntimeException.class)
          .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
          .isEqualTo(Status.Code.UNAVAILABLE);
    } finally {
      s.stop();
    }
  }

  @Test
  void mutualTlsNeedsTheClientCertificate() throws Exception {
    TallyServer s = Servers.create(config("127.0.0.1:0")
        .withTls(new ServerConfig.Tls(server.cert, server.key, client.cert))).start();
    try {
      assertThat(info(tls(s.tcpPort(), true)).getVersion()).isNotEmpty();
      assertThatThrownBy(() -> info(tls(s.tcpPort(), false)))
          .isInstanceOf(StatusRuntimeException.class)
          .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
          .isEqualTo(Status.Code.UNAVAILABLE);
      // A certificate the server does not trust is refused too.
      TestCerts stranger = TestCerts.selfSigned(dir, "stranger");
      ManagedChannel wrong = NettyChannelBuilder.forAddress("127.0.0.1", s.tcpPort())
          .sslContext(GrpcSslContexts.forClient().trustManager(server.cert.toFile())
              .keyManager(stranger.cert.toFile(), stranger.key.toFile()).build()).build();
      assertThatThrownBy(() -> info(wrong)).isInstanceOf(StatusRuntimeException.class)
          .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
          .isEqualTo(Status.Code.UNAVAILABLE);
    } finally {
      s.stop();
    }
  }

  @Test
  void unixSocketHasTheConfiguredModeAndIsGoneAfterShutdown() throws Exception {
    Path socket = dir.resolve("mode.sock");
    TallyServer s = Servers.create(config("unix:" + socket)).start();
    try {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)))
          .isEqualTo("rw-rw----");
    } finally {
      s.stop();
    }
    assertThat(socket).doesNotExist();
    TallyServer t = Servers.create(config("unix:" + socket)
        .withSocketMode(PosixFilePermissions.fromString("rw-------"))).start();
    try {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)))
          .isEqualTo("rw-------");
    } finally {
      t.stop();
    }
    assertThat(socket).doesNotExist();
  }
}
