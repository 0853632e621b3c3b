package dev.tally.server.plugin;

import dev.tally.spi.TallyPlugin;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds plugin jars in tests: Java sources compiled with {@link JavaCompiler} against the SPI
 * (and any extra jars), packed with a {@code META-INF/services} file and manifest attributes.
 */
public final class PluginJar {
  private final Map<String, String> sources = new LinkedHashMap<>();
  private final Map<String, String> manifest = new LinkedHashMap<>();
  private final Map<String, String> resources = new LinkedHashMap<>();
  private final List<Path> classpath = new ArrayList<>();
  private String provider;

  public static PluginJar create() {
    return new PluginJar();
  }

  /** A source file, by its fully qualified class name. */
  public PluginJar source(String className, String code) {
    sources.put(className, code);
    return this;
  }

  /** The TallyPlugin class named in META-INF/services (none: no services file). */
  public PluginJar provider(String className) {
    this.provider = className;
    return this;
  }

  public PluginJar manifest(String name, String value) {
    manifest.put(name, value);
    return this;
  }

  public PluginJar resource(String path, String content) {
    resources.put(path, content);
    return this;
  }

  /** An extra jar to compile against (the plugin bundles it next to its own jar). */
  public PluginJar compileAgainst(Path jar) {
    classpath.add(jar);
    return this;
  }

  /** Compiles and writes the jar. */
  public Path writeTo(Path jar) {
    try {
      Path src = Files.createTempDirectory("plugin-src");
      Path out = Files.createTempDirectory("plugin-classes");
      List<String> args = new ArrayList<>(List.of("-d", out.toString(), "--release", "17",
          "-proc:none", "-classpath", classpath()));
      for (Map.Entry<String, String> e : sources.entrySet()) {
        Path file = src.resolve(e.getKey().replace('.', '/') + ".java");
        Files.createDirectories(file.getParent());
        Files.writeString(file, e.getValue());
        args.add(file.toString());
      }
      JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
      int status = javac.run(null, null, null, args.toArray(String[]::new));
      if (status != 0) {
        throw new IllegalStateException("test plugin did not compile");
      }
      Manifest mf = new Manifest();
      mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
      manifest.forEach((k, v) -> mf.getMainAttributes().put(new Attributes.Name(k), v));
      Files.createDirectories(jar.getParent());
      try (OutputStream os = Files.newOutputStream(jar);
          JarOutputStream jos = new JarOutputStream(os, mf);
          Stream<Path> classes = Files.walk(out)) {
        for (Path p : (Iterable<Path>) classes.filter(Files::isRegularFile).sorted()::iterator) {
          jos.putNextEntry(new JarEntry(out.relativize(p).toString().replace('\\', '/')));
          jos.write(Files.readAllBytes(p));
          jos.closeEntry();
        }
        if (provider != null) {
          jos.putNextEntry(new JarEntry("META-INF/services/" + TallyPlugin.class.getName()));
          jos.write((provider + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
          jos.closeEntry();
        }
        for (Map.Entry<String, String> r : resources.entrySet()) {
          jos.putNextEntry(new JarEntry(r.getKey()));
          jos.write(r.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8));
          jos.closeEntry();
        }
      }
      return jar;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private String classpath() {
    List<String> entries = new ArrayList<>();
    entries.add(spiLocation().toString());
    classpath.forEach(p -> entries.add(p.toString()));
    return String.join(java.io.File.pathSeparator, entries);
  }

  /** Where the SPI classes are (spi/target/classes or the tally-spi jar). */
  public static Path spiLocation() {
    try {
      return Path.of(TallyPlugin.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The Guava 16.0.1 jar the build copied for these tests (the server has Guava 33). */
  public static Path oldGuava() {
    String dir = System.getProperty("tally.test.libs", "target/test-libs");
    Path jar = Path.of(dir, "guava-16.0.1.jar");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(jar + " is missing: the build copies it"
          + " (maven-dependency-plugin, generate-test-resources)");
    }
    return jar;
  }

  /** A one-processor plugin: {@code apply} body given, no parameters, provider class generated. */
  public static PluginJar simple(String pkg, String pluginName, String processorName,
      String applyBody) {
    return simple(pkg, pluginName, processorName, "java.util.List.of()", applyBody);
  }

  /** A one-processor plugin with the given params() expression and apply body. */
  public static PluginJar simple(String pkg, String pluginName, String processorName, String params,
      String applyBody) {
    String code = """
        package %1$s;

        import dev.tally.spi.*;
        import java.util.List;

        public final class Plugin implements TallyPlugin {
          @Override public String name() { return "%2$s"; }
          @Override public List<ProcessorFactory> processorFactories() {
            return List.of(new ProcessorFactory() {
              @Override public String name() { return "%3$s"; }
              @Override public String description() { return "Test processor %3$s."; }
              @Override public List<ParamSpec> params() { return %4$s; }
              @Override public LogitsProcessor create(Params params) {
                return (candidates, context) -> { %5$s };
              }
            });
          }
        }
        """.formatted(pkg, pluginName, processorName, params, applyBody);
    return create().source(pkg + ".Plugin", code).provider(pkg + ".Plugin");
  }
}
