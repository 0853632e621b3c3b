package dev.tally.server.inject;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Stage;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.transport.TallyServer;

/** Builds a server from its config: the one place an injector is made. */
public final class Servers {
  private Servers() {}

  /** A configured, not yet started server. */
  public static TallyServer create(ServerConfig config) {
    Injector injector = Guice.createInjector(Stage.PRODUCTION, binder -> {
      binder.requireExplicitBindings();
      binder.disableCircularProxies();
      binder.requireExactBindingAnnotations();
      binder.install(new TallyModule(config));
    });
    return injector.getInstance(TallyServer.class);
  }
}
