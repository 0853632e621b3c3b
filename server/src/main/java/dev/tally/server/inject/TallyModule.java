package dev.tally.server.inject;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.exec.SamplerPool;
import dev.tally.server.grpc.SamplerService;
import dev.tally.server.grpc.ServerInfoSource;
import dev.tally.server.grpc.SessionTracker;
import dev.tally.server.transport.TallyServer;

/**
 * The server's object graph. Bindings only; nothing starts here (sockets open in {@link
 * TallyServer#start()}).
 */
public final class TallyModule extends AbstractModule {
  private final ServerConfig config;

  public TallyModule(ServerConfig config) {
    this.config = config;
  }

  @Override
  protected void configure() {
    bind(ServerConfig.class).toInstance(config);
    bind(SessionTracker.class).in(Singleton.class);
    bind(ServerInfoSource.class).in(Singleton.class);
    bind(SamplerService.class).in(Singleton.class);
    bind(TallyServer.class).in(Singleton.class);
  }

  /** Built-ins and every plugin on the class path, installed through the same SPI. */
  @Provides
  @Singleton
  ProcessorRegistry registry() {
    return ProcessorRegistry.fromServiceLoader(TallyModule.class.getClassLoader());
  }

  @Provides
  @Singleton
  SamplerPool samplerPool(ServerConfig config) {
    return new SamplerPool(config.samplerThreads());
  }
}
