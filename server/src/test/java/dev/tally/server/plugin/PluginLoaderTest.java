package dev.tally.server.plugin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.core.registry.ProcessorRegistry;
import dev.tally.core.registry.RegisteredFactory;
import dev.tally.spi.Candidates;
import dev.tally.spi.LogitsProcessor;
import dev.tally.spi.Params;
import dev.tally.spi.ProcessorFactory;
import dev.tally.spi.SamplingContext;
import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import dev.tally.spi.TokenHistory;
import java.io.IOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading plugin directories: isolation, the context class loader, and every start-up error. */
final class PluginLoaderTest {
  @TempDir Path dir;

  private static final ClassLoader SERVER = TallyPlugin.class.getClassLoader();

  private static LoadedPlugins load(Path... dirs) {
    return PluginLoader.load(List.of(dirs), SERVER);
  }

  private static SamplingContext context() {
    return new SamplingContext() {
      @Override
      public TokenHistory history() {
        return dev.tally.core.engine.TokenLog.empty();
      }

      @Override
      public long seed() {
        return 0;
      }

      @Override
      public double random(int stream) {
        return 0;
      }
    };
  }

  /** The plugin bundles Guava 16; the server has Guava 33. Each sees its own. */
  @Test
  void aPluginGetsItsOwnLibrariesAndOnlyTheSpiFromTheServer() throws Exception {
    Path folder = dir.resolve("plugins/guava-probe");
    Files.createDirectories(folder);
    Files.copy(PluginJar.oldGuava(), folder.resolve("guava-16.0.1.jar"));
    PluginJar.simple("probe.guava", "guava_probe", "guava_probe",
            "String s = com.google.common.base.Objects.toStringHelper(\"p\").add(\"v\", 16)"
                + ".toString(); candidates.setLogit(s.equals(\"p{v=16}\") ? 1 : 2, 9f);")
        .compileAgainst(PluginJar.oldGuava())
        .writeTo(folder.resolve("guava-probe.jar"));
    try (LoadedPlugins loaded = load(dir.resolve("plugins"))) {
      PluginBundle bundle = loaded.bundles().get(0);
      ClassLoader loader = bundle.classLoader();
      assertThat(bundle.jars()).extracting(p -> p.getFileName().toString())
          .containsExactly("guava-16.0.1.jar", "guava-probe.jar");

      Class<?> theirs = loader.loadClass("com.google.common.base.Objects");
      Class<?> ours = Class.forName("com.google.common.base.Objects");
      assertThat(theirs).isNotSameAs(ours);
      assertThat(theirs.getClassLoader()).isSameAs(loader);
      assertThat(theirs.getMethod("toStringHelper", Object.class)).isNotNull();
      assertThatThrownBy(() -> ours.getMethod("toStringHelper", Object.class))
          .isInstanceOf(NoSuchMethodException.class); // removed in Guava 21
      assertThat(loader.loadClass(TallyPlugin.class.getName())).isSameAs(TallyPlugin.class);
      assertThat(loader.loadClass("java.util.List")).isSameAs(List.class);
      // the server's own classes are invisible
      assertThatThrownBy(() -> loader.loadClass(PluginLoader.class.getName()))
          .isInstanceOf(ClassNotFoundException.class);
      assertThatThrownBy(() -> loader.loadClass("io.grpc.Server"))
          .isInstanceOf(ClassNotFoundException.class);
      // ServiceLoader sees only the plugin's own services file
      List<URL> services = Collections.list(
          loader.getResources("META-INF/services/" + TallyPlugin.class.getName()));
      assertThat(services).hasSize(1);
      assertThat(services.get(0).toString()).contains("guava-probe.jar");

      ProcessorRegistry registry = loaded.registry(SERVER);
      RegisteredFactory f = registry.lookup("guava_probe", "x");
      assertThat(f.plugin()).isEqualTo("guava_probe");
      LogitsProcessor p = (LogitsProcessor) f.factory().create(Params.empty());
      Candidates c = Candidates.of(0f, 0f, 0f);
      p.apply(c, context());
      assertThat(c.logit(1)).as("ran Guava 16's toStringHelper").isEqualTo(9f);
    }
  }

  @Test
  void everyCallRunsWithThePluginsLoaderAsContextLoaderAndRestoresIt() throws Exception {
    String tccl = "Thread.currentThread().getContextClassLoader() == Plugin.class.getClassLoader()";
    PluginJar.simple("probe.tccl", "tccl_probe", "tccl_probe",
            "candidates.setLogit(" + tccl + " ? 1 : 2, 9f);")
        .writeTo(dir.resolve("tccl.jar")); // a lone jar is a plugin too
    try (LoadedPlugins loaded = load(dir)) {
      ProcessorRegistry registry = loaded.registry(SERVER);
      ClassLoader before = Thread.currentThread().getContextClassLoader();
      LogitsProcessor p = (LogitsProcessor) registry.lookup("tccl_probe", "x").factory()
          .create(Params.empty());
      Candidates c = Candidates.of(0f, 0f, 0f);
      p.apply(c, context());
      assertThat(c.logit(1)).isEqualTo(9f);
      assertThat(Thread.currentThread().getContextClassLoader()).isSameAs(before);
      assertThat(loaded.bundles().get(0).location()).isEqualTo(dir.resolve("tccl.jar"));
    }
  }

  @Test
  void aFolderWithoutAProviderIsAStartUpErrorNamingIt() {
    PluginJar.simple("probe.none", "none", "none", "").provider(null)
        .writeTo(dir.resolve("noprovider/lib.jar"));
    assertThatThrownBy(() -> load(dir)).isInstanceOf(PluginLoadException.class)
        .hasMessageContaining("noprovider").hasMessageContaining("lib.jar")
        .hasMessageContaining("no service provider of dev.tally.spi.TallyPlugin");
  }

  @Test
  void aFolderWithoutJarsIsAStartUpError() throws IOException {
    Files.createDirectories(dir.resolve("empty"));
    Files.writeString(dir.resolve("README.txt"), "not a plugin"); // ignored
    assertThatThrownBy(() -> load(dir)).isInstanceOf(PluginLoadException.class)
        .hasMessageContaining("plugin folder " + dir.resolve("empty")).hasMessageContaining("no jar");
  }

  @Test
  void aMissingDirectoryIsAStartUpError() {
    assertThatThrownBy(() -> load(dir.resolve("nope"))).isInstanceOf(PluginLoadException.class)
        .hasMessageContaining("nope").hasMessageContaining("does not exist");
  }

  @Test
  void aProviderThatCannotBeCreatedIsAStartUpErrorNamingTheFolder() {
    PluginJar.simple("probe.missing", "missing", "missing", "")
        .provider("probe.missing.NoSuchClass").writeTo(dir.resolve("broken/broken.jar"));
    assertThatThrownBy(() -> load(dir)).isInstanceOf(PluginLoadException.class)
        .hasMessageContaining("broken").hasMessageContaining("NoSuchClass");
  }

  @Test
  void anotherSpiMajorVersionIsRefusedFromTheManifest() {
    PluginJar.simple("probe.v2", "future", "future", "")
        .manifest(PluginLoader.SPI_VERSION_ATTRIBUTE, (SpiVersion.MAJOR + 1) + ".0")
        .writeTo(dir.resolve("future/future.jar"));
    assertThatThrownBy(() -> load(dir)).isInstanceOf(PluginLoadException.class)
        .hasMessageContaining("future.jar")
        .hasMessageContaining("built for SPI version " + (SpiVersion.MAJOR + 1) + ".0")
        .hasMessageContaining("this server runs SPI " + SpiVersion.CURRENT);
  }

  @Test
  void aNewerMinorVersionIsRefusedAnOlderOneLoads() throws IOException {
    PluginJar.simple("probe.newer", "newer", "newer", "")
        .manifest(PluginLoader.SPI_VERSION_ATTRIBUTE, SpiVersion.MAJOR + "." + (SpiVersion.MINOR + 1))
        .writeTo(dir.resolve("a/newer.jar"));
    assertThatThrownBy(() -> load(dir.resolve("a"))).isInstanceOf(PluginLoadException.class)
        .hasMessageContaining("newer than this server's SPI");
    PluginJar.simple("probe.older", "older", "older", "")
        .manifest(PluginLoader.SPI_VERSION_ATTRIBUTE, SpiVersion.MAJOR + ".0")
        .writeTo(dir.resolve("b/older/older.jar"));
    try (LoadedPlugins loaded = load(dir.resolve("b"))) {
      assertThat(loaded.bundles()).hasSize(1);
    }
  }

  @Test
  void anotherSpiMajorVersionIsRefusedFromThePlugin() {
    String code = """
        package probe.old;
        import dev.tally.spi.*;
        public final class Plugin implements TallyPlugin {
          @Override public int spiMajorVersion() { return 0; }
        }
        """;
    PluginJar.create().source("probe.old.Plugin", code).provider("probe.old.Plugin")
        .writeTo(dir.resolve("old/old.jar"));
    assertThatThrownBy(() -> load(dir)).isInstanceOf(PluginLoadException.class)
        .hasMessageContaining("old").hasMessageContaining("SPI version 0.x");
  }

  @Test
  void duplicateProcessorNamesAcrossPluginsAreAStartUpErrorNamingBoth() {
    PluginJar.simple("probe.one", "one", "shared_name", "").writeTo(dir.resolve("one/one.jar"));
    PluginJar.simple("probe.two", "two", "shared_name", "").writeTo(dir.resolve("two/two.jar"));
    try (LoadedPlugins loaded = load(dir)) {
      assertThatThrownBy(() -> loaded.registry(SERVER)).isInstanceOf(PluginLoadException.class)
          .hasMessageContaining("processor 'shared_name' is provided twice")
          .hasMessageContaining("one.jar").hasMessageContaining("two.jar");
    }
  }

  @Test
  void aPluginCannotReplaceABuiltin() {
    PluginJar.simple("probe.topk", "topk", "top_k", "").writeTo(dir.resolve("topk.jar"));
    try (LoadedPlugins loaded = load(dir)) {
      assertThatThrownBy(() -> loaded.registry(SERVER)).isInstanceOf(PluginLoadException.class)
          .hasMessageContaining("processor 'top_k' is provided twice")
          .hasMessageContaining("plugin builtin").hasMessageContaining("topk.jar");
    }
  }

  @Test
  void aBadProcessorNameIsAStartUpErrorNamingTheJar() {
    PluginJar.simple("probe.bad", "bad", "Bad-Name", "").writeTo(dir.resolve("bad.jar"));
    try (LoadedPlugins loaded = load(dir)) {
      assertThatThrownBy(() -> loaded.registry(SERVER)).isInstanceOf(PluginLoadException.class)
          .hasMessageContaining("bad.jar").hasMessageContaining("Bad-Name");
    }
  }

  @Test
  void aBundledCopyOfTheSpiIsIgnored() throws Exception {
    // A plugin that bundles (a fake of) an SPI class: the server's class is used all the same.
    PluginJar.simple("probe.copy", "copy", "copy_probe", "")
        .source("dev.tally.spi.Extra", "package dev.tally.spi; public final class Extra {}")
        .writeTo(dir.resolve("copy.jar"));
    try (LoadedPlugins loaded = load(dir)) {
      ClassLoader loader = loaded.bundles().get(0).classLoader();
      assertThatThrownBy(() -> loader.loadClass("dev.tally.spi.Extra"))
          .isInstanceOf(ClassNotFoundException.class); // SPI names come only from the server
      assertThat(loader.getResource("dev/tally/spi/Extra.class")).isNull();
    }
  }

  @Test
  void closingReleasesThePluginJars() {
    PluginJar.simple("probe.closing", "closing", "closing_probe", "")
        .resource("data.txt", "hello").writeTo(dir.resolve("closing.jar"));
    LoadedPlugins loaded = load(dir);
    ClassLoader loader = loaded.bundles().get(0).classLoader();
    assertThat(loader.getResource("data.txt")).isNotNull();
    loaded.close();
    assertThat(loader.getResource("data.txt")).isNull(); // the jar file is closed
  }

  @Test
  void createThatReturnsNullFailsInsteadOfPoisoningTheChain() {
    ProcessorFactory f = new ClassLoaderSafe.SafeProcessorFactory(new ProcessorFactory() {
      @Override
      public String name() {
        return "n";
      }

      @Override
      public String description() {
        return "d";
      }

      @Override
      public List<dev.tally.spi.ParamSpec> params() {
        return List.of();
      }

      @Override
      public LogitsProcessor create(Params params) {
        return null;
      }
    }, SERVER);
    assertThatThrownBy(() -> f.create(Params.empty())).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("null");
  }
}
