package dev.tally.server.grpc;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Where the server actually listens, known only once the listeners are bound. */
public final class ServerInfoSource {
  private final List<String> transports = new CopyOnWriteArrayList<>();

  public void addTransport(String address) {
    transports.add(address);
  }

  public List<String> transports() {
    return List.copyOf(transports);
  }
}
