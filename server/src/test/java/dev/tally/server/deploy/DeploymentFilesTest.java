package dev.tally.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.server.transport.ListenAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The Kubernetes manifest parses and agrees with itself and the Dockerfile; the image's entrypoint
 * script runs the jar with the flags Tally needs (tested with a stand-in java, since Docker is not
 * available here).
 */
final class DeploymentFilesTest {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  @TempDir Path dir;

  @SuppressWarnings("unchecked")
  private static <T> T get(Object map, String... path) {
    Object o = map;
    for (String p : path) {
      assertThat(o).as("at %s", p).isInstanceOf(Map.class);
      o = ((Map<String, Object>) o).get(p);
    }
    return (T) o;
  }

  @Test
  @SuppressWarnings("unchecked")
  void kubernetesPodIsConsistent() throws IOException {
    Map<String, Object> pod = new Yaml().load(Files.readString(
        ROOT.resolve("deploy/kubernetes/tally-sidecar-pod.yaml")));
    assertThat((String) get(pod, "kind")).isEqualTo("Pod");
    List<Map<String, Object>> containers = get(pod, "spec", "containers");
    Map<String, Object> tally = containers.stream().filter(c -> c.get("name").equals("tally"))
        .findFirst().orElseThrow();
    Map<String, Object> model = containers.stream()
        .filter(c -> c.get("name").equals("model-server")).findFirst().orElseThrow();

    // the image: the project's version
    String version = Files.readString(ROOT.resolve("pom.xml"))
        .replaceAll("(?s).*?<artifactId>tally-parent</artifactId>\\s*<version>([^<]+)<.*", "$1");
    assertThat((String) tally.get("image")).endsWith("/tally:" + version);

    // ports: the gRPC listener, the probes and the metrics annotation agree
    List<String> args = (List<String>) tally.get("args");
    Map<String, Integer> ports = new java.util.HashMap<>();
    for (Map<String, Object> p : (List<Map<String, Object>>) tally.get("ports")) {
      ports.put((String) p.get("name"), (Integer) p.get("containerPort"));
    }
    List<String> listeners = new ArrayList<>();
    String metrics = null;
    for (String a : args) {
      if (a.startsWith("--listen=")) {
        listeners.add(a.substring("--listen=".length()));
      } else if (a.startsWith("--metrics-listen=")) {
        metrics = a.substring("--metrics-listen=".length());
      }
    }
    listeners.forEach(ListenAddress::parse);
    assertThat(listeners).contains("0.0.0.0:" + ports.get("grpc"));
    assertThat(args).contains("--insecure"); // plaintext on the pod IP for the kubelet's probes
    assertThat(metrics).isEqualTo("0.0.0.0:" + ports.get("metrics"));
    assertThat((Integer) get(tally, "readinessProbe", "grpc", "port")).isEqualTo(ports.get("grpc"));
    assertThat((Integer) get(tally, "livenessProbe", "grpc", "port")).isEqualTo(ports.get("grpc"));
    Map<String, String> annotations = get(pod, "metadata", "annotations");
    assertThat(annotations).containsEntry("prometheus.io/scrape", "true")
        .containsEntry("prometheus.io/port", String.valueOf(ports.get("metrics")))
        .containsEntry("prometheus.io/path", "/metrics");

    // the socket: an emptyDir both containers mount where the listener and the client expect it
    String socket = listeners.stream().filter(l -> l.startsWith("unix:")).findFirst().orElseThrow();
    String socketDir = Path.of(socket.substring("unix:".length())).getParent().toString();
    List<Map<String, Object>> volumes = get(pod, "spec", "volumes");
    String socketVolume = volumes.stream().filter(v -> v.containsKey("emptyDir"))
        .map(v -> (String) v.get("name")).findFirst().orElseThrow();
    for (Map<String, Object> c : List.of(tally, model)) {
      assertThat((List<Map<String, Object>>) c.get("volumeMounts"))
          .anySatisfy(m -> assertThat(m).containsEntry("name", socketVolume)
              .containsEntry("mountPath", socketDir));
      assertThat((Object) get(c, "resources", "requests")).isNotNull();
    }
    assertThat((List<Map<String, Object>>) model.get("env"))
        .anySatisfy(e -> assertThat(e.get("value")).isEqualTo(socket));

    // shared-memory logits: one memory-backed emptyDir at /dev/shm in both containers
    assertThat(volumes).anySatisfy(v -> {
      assertThat(v.get("name")).isEqualTo("shm");
      assertThat((String) get(v, "emptyDir", "medium")).isEqualTo("Memory");
    });
    for (Map<String, Object> c : List.of(tally, model)) {
      assertThat((List<Map<String, Object>>) c.get("volumeMounts"))
          .anySatisfy(m -> assertThat(m).containsEntry("name", "shm")
              .containsEntry("mountPath", "/dev/shm"));
    }

    // the plugin directory comes from a volume
    String pluginMount = ((List<Map<String, Object>>) tally.get("volumeMounts")).stream()
        .filter(m -> m.get("name").equals("tally-plugins")).map(m -> (String) m.get("mountPath"))
        .findFirst().orElseThrow();
    assertThat(args).contains("--plugin-dir=" + pluginMount);
    assertThat(volumes).anySatisfy(v -> assertThat(v.get("name")).isEqualTo("tally-plugins"));

    // the Dockerfile's user, socket dir and health check agree
    String dockerfile = Files.readString(ROOT.resolve("Dockerfile"));
    assertThat((Integer) get(tally, "securityContext", "runAsUser")).isEqualTo(10001);
    assertThat(dockerfile).contains("USER 10001:10001", "mkdir -p /opt/tally/plugins /run/tally",
        "\"tally\", \"health\", \"--target\", \"" + socket + "\"",
        "FROM eclipse-temurin:25-jre", "RUN ./mvnw -B -ntp verify",
        "COPY --from=build /src/plugins/target/dist/ /opt/tally/plugins/");
    assertThat(Files.readString(ROOT.resolve(".ci/run"))).contains("./mvnw -B -ntp verify");
  }

  @Test
  void entrypointRunsTheJarWithTheVectorModule() throws Exception {
    Path home = Files.createDirectories(dir.resolve("opt/tally"));
    Files.writeString(home.resolve("tally-server-all.jar"), "not really a jar");
    Path fakeJava = dir.resolve("java");
    Files.writeString(fakeJava, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
    Files.setPosixFilePermissions(fakeJava, java.util.EnumSet.of(PosixFilePermission.OWNER_READ,
        PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE));
    Map<String, String> env = Map.of("TALLY_HOME", home.toString(),
        "TALLY_JAVA", fakeJava.toString(), "TALLY_JAVA_OPTS", "-Xmx1g -Dx=y");
    assertThat(run(env)).isEqualTo(List.of("--add-modules", "jdk.incubator.vector",
        "--add-opens=java.base/java.nio=ALL-UNNAMED", "-Dio.netty.tryReflectionSetAccessible=true",
        "-Xmx1g",
        "-Dx=y", "-jar", home + "/tally-server-all.jar", "serve", "--listen",
        "unix:/run/tally/tally.sock"));
    assertThat(run(env, "health", "--target", "unix:/x y.sock")).endsWith("health", "--target",
        "unix:/x y.sock");
    Files.delete(home.resolve("tally-server-all.jar"));
    ProcessBuilder pb = new ProcessBuilder("sh", script().toString()).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(127);
    assertThat(out).isEqualTo("tally-entrypoint: no server jar at " + home
        + "/tally-server-all.jar\n");
  }

  private static Path script() {
    return ROOT.resolve("deploy/docker/tally-entrypoint.sh");
  }

  private static List<String> run(Map<String, String> env, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("sh", script().toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isZero();
    return out.lines().toList();
  }
}
