package dev.tally.server.inject;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Stage;
import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.plugin.LoadedPlugins;
import dev.tally.server.plugin.PluginLoadException;
import dev.tally.server.plugin.PluginLoader;
import dev.tally.server.shm.SharedMemoryConfig;
import dev.tally.server.transport.TallyServer;
import dev.tally.spi.TallyPlugin;

/** Builds a server from its config: the one place an injector is made. */
public final class Servers {
  private Servers() {}

  /**
   * A configured, not yet started server. The plugin directories are loaded first, once, and the
   * registry is built from the built-ins and the plugins (one log line per plugin).
   *
   * @throws PluginLoadException when a plugin directory cannot be loaded; the message names the
   *     folder or jar
   */
  public static TallyServer create(ServerConfig config) {
    return create(config, SharedMemoryConfig.defaults());
  }

  /** With shared-memory settings of its own (directory, limits). */
  public static TallyServer create(ServerConfig config, SharedMemoryConfig sharedMemory) {
    LoadedPlugins plugins = PluginLoader.load(config.pluginDirs(),
        TallyPlugin.class.getClassLoader());
    boolean created = false;
    try {
      ProcessorRegistry registry = plugins.registry(Servers.class.getClassLoader());
      Injector injector = Guice.createInjector(Stage.PRODUCTION, binder -> {
        binder.requireExplicitBindings();
        binder.disableCircularProxies();
        binder.requireExactBindingAnnotations();
        binder.install(new TallyModule(config, sharedMemory, plugins, registry));
      });
      TallyServer server = injector.getInstance(TallyServer.class);
      created = true;
      return server;
    } finally {
      if (!created) {
        plugins.close(); // nothing will run plugin code
      }
    }
  }
}
