package dev.tally.server.cli;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.List;

/**
 * Which plugin directories {@code tally serve} loads, first match wins:
 *
 * <ol>
 *   <li>every {@code --plugin-dir} given;
 *   <li>the environment variable {@value #ENV}, a path list ({@code :}-separated); set but empty
 *       means no plugins;
 *   <li>the folder {@value #DEFAULT_NAME} next to the server jar, if it exists: the layout of a
 *       distribution or container image ({@code tally-server-all.jar} beside {@code plugins/}).
 * </ol>
 *
 * The {@code ./tally} launcher sets {@value #ENV} to the repository's {@code plugins/target/dist},
 * which the build fills with the shipped plugins.
 */
final class PluginDirs {
  static final String ENV = "TALLY_PLUGIN_DIR";
  static final String DEFAULT_NAME = "plugins";

  private PluginDirs() {}

  static List<Path> resolve(List<Path> flags, String env, Path jarDirectory) {
    if (!flags.isEmpty()) {
      return List.copyOf(flags);
    }
    if (env != null) {
      List<Path> dirs = new ArrayList<>();
      for (String part : env.split(File.pathSeparator)) {
        if (!part.isBlank()) {
          dirs.add(Path.of(part.trim()));
        }
      }
      return dirs;
    }
    if (jarDirectory != null) {
      Path beside = jarDirectory.resolve(DEFAULT_NAME);
      if (Files.isDirectory(beside)) {
        return List.of(beside);
      }
    }
    return List.of();
  }

  /** The folder holding the jar this class runs from, or {@code null} (classes directory). */
  static Path jarDirectory() {
    CodeSource source = PluginDirs.class.getProtectionDomain().getCodeSource();
    if (source == null || source.getLocation() == null) {
      return null;
    }
    try {
      Path location = Path.of(source.getLocation().toURI());
      return Files.isRegularFile(location) ? location.getParent() : null;
    } catch (URISyntaxException | IllegalArgumentException e) {
      return null;
    }
  }
}
