package dev.tally.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code serve}'s plugin-directory and step-deadline options. */
final class CliOptionsTest {
  @TempDir Path dir;

  @Test
  void durationsInTheFormsPeopleType() {
    assertThat(Durations.parse("10s")).isEqualTo(Duration.ofSeconds(10));
    assertThat(Durations.parse("1.5s")).isEqualTo(Duration.ofMillis(1500));
    assertThat(Durations.parse("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(Durations.parse("2m")).isEqualTo(Duration.ofMinutes(2));
    assertThat(Durations.parse("PT3S")).isEqualTo(Duration.ofSeconds(3));
    assertThat(Durations.parse("4")).isEqualTo(Duration.ofSeconds(4));
    assertThatThrownBy(() -> Durations.parse("soon")).hasMessageContaining("not a duration");
  }

  @Test
  void pluginDirectoriesFlagsThenEnvironmentThenBesideTheJar() throws Exception {
    Path a = dir.resolve("a");
    Path b = dir.resolve("b");
    assertThat(PluginDirs.resolve(List.of(a), b.toString(), dir)).containsExactly(a);
    assertThat(PluginDirs.resolve(List.of(), a + File.pathSeparator + b, dir))
        .containsExactly(a, b);
    assertThat(PluginDirs.resolve(List.of(), "", dir)).isEmpty(); // set but empty: none
    assertThat(PluginDirs.resolve(List.of(), null, dir)).isEmpty(); // no plugins/ beside the jar
    Files.createDirectories(dir.resolve("plugins"));
    assertThat(PluginDirs.resolve(List.of(), null, dir)).containsExactly(dir.resolve("plugins"));
    assertThat(PluginDirs.resolve(List.of(), null, null)).isEmpty();
  }

  @Test
  void serveTakesTheNewOptions() {
    ServeCommand serve = new ServeCommand();
    new CommandLine(serve).parseArgs("--step-deadline", "750ms", "--plugin-dir", "/x",
        "--plugin-dir", "/y");
    var config = serve.config();
    assertThat(config.stepDeadline()).isEqualTo(Duration.ofMillis(750));
    assertThat(config.pluginDirs()).containsExactly(Path.of("/x"), Path.of("/y"));
    assertThat(new ServeCommand().config().stepDeadline()).isEqualTo(Duration.ofSeconds(10));
    assertThatThrownBy(() -> new CommandLine(new ServeCommand()).parseArgs("--step-deadline", "0s"))
        .hasMessageContaining("must be positive");
  }
}
