package dev.tally.server.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

final class ListenAddressTest {
  @Test
  void parsesTcpAndUnixForms() {
    assertThat(ListenAddress.parse("127.0.0.1:50051").toString()).isEqualTo("127.0.0.1:50051");
    assertThat(ListenAddress.parse("[::1]:7").toString()).isEqualTo("[::1]:7");
    assertThat(ListenAddress.parse("localhost:0").isUnix()).isFalse();
    ListenAddress unix = ListenAddress.parse("unix:/run/tally/t.sock");
    assertThat(unix.isUnix()).isTrue();
    assertThat(unix.socketPath()).isEqualTo(Path.of("/run/tally/t.sock"));
    assertThat(ListenAddress.parse("unix:///run/t.sock").socketPath()).isEqualTo(Path.of("/run/t.sock"));
  }

  @Test
  void rejectsMalformedAddressesWithTheAcceptedForms() {
    assertThatThrownBy(() -> ListenAddress.parse("50051"))
        .hasMessage("'50051' is not a listen address; use HOST:PORT or unix:PATH");
    assertThatThrownBy(() -> ListenAddress.parse("host:http"))
        .hasMessage("'host:http' has no valid port; use HOST:PORT");
    assertThatThrownBy(() -> ListenAddress.parse("host:70000"))
        .hasMessage("'host:70000': port must be in [0, 65535]");
    assertThatThrownBy(() -> ListenAddress.parse("unix:"))
        .hasMessage("'unix:' has no socket path; use unix:PATH");
  }
}
