package dev.tally.server.inject;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.vocab.VocabularyRegistry;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.exec.SamplerPool;
import dev.tally.server.grpc.SamplerService;
import dev.tally.server.grpc.ServerInfoSource;
import dev.tally.server.grpc.SessionTracker;
import dev.tally.server.metrics.TallyMetrics;
import dev.tally.server.plugin.LoadedPlugins;
import dev.tally.server.shm.SharedMemory;
import dev.tally.server.shm.SharedMemoryConfig;
import dev.tally.server.transport.TallyServer;

/**
 * The server's object graph. Bindings only; nothing starts here (sockets open in {@link
 * TallyServer#start()}), and nothing is loaded here either: the plugins and the registry built
 * from them come in ready-made ({@link Servers#create}), as Trino installs plugins into managers
 * rather than into Guice.
 *
 * <p>Public bindings: {@link ServerConfig}, {@link LoadedPlugins}, {@link ProcessorRegistry}
 * (built-ins plus plugins), {@link SamplerPool} (which closes the plugin class loaders after its
 * threads on shutdown), and the services.
 */
public final class TallyModule extends AbstractModule {
  private final ServerConfig config;
  private final SharedMemoryConfig sharedMemory;
  private final LoadedPlugins plugins;
  private final ProcessorRegistry registry;

  public TallyModule(ServerConfig config, SharedMemoryConfig sharedMemory, LoadedPlugins plugins,
      ProcessorRegistry registry) {
    this.config = config;
    this.sharedMemory = sharedMemory;
    this.plugins = plugins;
    this.registry = registry;
  }

  @Override
  protected void configure() {
    bind(ServerConfig.class).toInstance(config);
    bind(SharedMemoryConfig.class).toInstance(sharedMemory);
    bind(SharedMemory.class).in(Singleton.class);
    bind(LoadedPlugins.class).toInstance(plugins);
    bind(ProcessorRegistry.class).toInstance(registry);
    bind(SessionTracker.class).in(Singleton.class);
    bind(ServerInfoSource.class).in(Singleton.class);
    bind(SamplerService.class).in(Singleton.class);
    bind(TallyServer.class).in(Singleton.class);
  }

  @Provides
  @Singleton
  TallyMetrics metrics() {
    return TallyMetrics.prometheus();
  }

  @Provides
  @Singleton
  VocabularyRegistry vocabularies() {
    return new VocabularyRegistry(VocabularyRegistry.DEFAULT_MAX_VOCABULARIES,
        VocabularyRegistry.DEFAULT_MAX_BYTES);
  }

  @Provides
  @Singleton
  SamplerPool samplerPool(ServerConfig config, LoadedPlugins plugins, TallyMetrics metrics) {
    return new SamplerPool(config.samplerThreads(), config.stepDeadline(), plugins,
        metrics.stageTimer());
  }
}
