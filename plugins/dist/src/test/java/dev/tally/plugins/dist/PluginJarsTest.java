package dev.tally.plugins.dist;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.spi.SpiVersion;
import dev.tally.spi.TallyPlugin;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The default plugin directory as the build leaves it: one folder per plugin, sound jars. */
final class PluginJarsTest {
  static Path dist() {
    return Path.of(System.getProperty("tally.plugin.dist", "../target/dist"));
  }

  @Test
  void oneFolderPerShippedPluginEachWithItsJar() throws IOException {
    try (Stream<Path> s = Files.list(dist())) {
      assertThat(s.map(p -> p.getFileName().toString()).sorted())
          .containsExactly("dry", "mirostat", "watermark");
    }
    for (String plugin : List.of("dry", "mirostat", "watermark")) {
      try (Stream<Path> s = Files.list(dist().resolve(plugin))) {
        assertThat(s.map(p -> p.getFileName().toString()))
            .containsExactly("tally-plugin-" + plugin + ".jar");
      }
    }
  }

  @Test
  void eachJarDeclaresItsSpiVersionAndVersionAndBundlesNoSpi() throws IOException {
    for (String plugin : List.of("dry", "mirostat", "watermark")) {
      try (JarFile jar = new JarFile(dist().resolve(plugin + "/tally-plugin-" + plugin + ".jar")
          .toFile())) {
        var attributes = jar.getManifest().getMainAttributes();
        assertThat(attributes.getValue("Tally-Spi-Version")).as(plugin)
            .isEqualTo(SpiVersion.CURRENT);
        assertThat(attributes.getValue("Implementation-Version")).as(plugin).isNotBlank();
        assertThat(jar.stream().map(e -> e.getName()))
            .noneMatch(n -> n.startsWith("dev/tally/spi/"));
        String provider = new String(jar.getInputStream(jar.getEntry(
            "META-INF/services/" + TallyPlugin.class.getName())).readAllBytes(),
            StandardCharsets.UTF_8).trim();
        assertThat(jar.getEntry(provider.replace('.', '/') + ".class")).as(provider).isNotNull();
      }
    }
  }
}
