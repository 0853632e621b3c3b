package dev.tally.server.e2e;

import static dev.tally.server.e2e.TestServer.f32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.ListProcessorsRequest;
import dev.tally.api.v1.ParamInfo;
import dev.tally.api.v1.PluginInfo;
import dev.tally.api.v1.ProcessorInfo;
import dev.tally.api.v1.ProcessorKind;
import dev.tally.api.v1.ProcessorSpec;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.TokenHistory;
import dev.tally.server.cli.TallyCommand;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.plugin.PluginJar;
import dev.tally.server.plugin.PluginLoadException;
import dev.tally.spi.SpiVersion;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Plugins through the real server: a plugin that bundles Guava 16 (the server runs Guava 33) is
 * loaded from a plugin directory and answers requests with its own library; the catalogue shows
 * it; its parameters are validated; a throwing plugin fails only its row; a plugin that never
 * returns fails its row with DEADLINE_EXCEEDED and the session goes on; bad plugin directories
 * stop the server from starting.
 */
final class PluginEndToEndTest {
  private static final String RELEASE = "tally.test.release";

  @TempDir static Path dir;
  private static TestServer server;

  /** Token 3 when the plugin ran Guava 16's toStringHelper under its own context loader. */
  private static final String GUAVA_PROBE = """
      package probe.guava;

      import com.google.common.base.Objects;
      import dev.tally.spi.*;
      import java.util.List;

      public final class Plugin implements TallyPlugin {
        @Override public String name() { return "guava_probe"; }
        @Override public List<ProcessorFactory> processorFactories() {
          return List.of(new ProcessorFactory() {
            @Override public String name() { return "guava_probe"; }
            @Override public String description() { return "Boosts token 3 using Guava 16."; }
            @Override public List<ParamSpec> params() {
              return List.of(
                  ParamSpec.number("boost", "How much.").withDefault(10.0).withRange(0, 100),
                  ParamSpec.string("label", "A label.").withDefault("a").withAllowedValues("a", "b"));
            }
            @Override public LogitsProcessor create(Params params) {
              float boost = (float) params.getDouble("boost");
              return (candidates, context) -> {
                // Objects.toStringHelper was removed in Guava 21: against the server's Guava 33
                // this throws NoSuchMethodError.
                String s = Objects.toStringHelper("probe").add("v", 16).toString();
                boolean own = Thread.currentThread().getContextClassLoader()
                    == Plugin.class.getClassLoader()
                    && Objects.class.getClassLoader() == Plugin.class.getClassLoader();
                int token = s.equals("probe{v=16}") && own ? 3 : 4;
                candidates.setLogit(token, candidates.logit(token) + boost);
              };
            }
          });
        }
      }
      """;

  /** faulty: throws when the history holds token 9. slow: never returns (ignores interrupts). */
  private static final String MISBEHAVING = """
      package probe.bad;

      import dev.tally.spi.*;
      import java.util.List;

      public final class Plugin implements TallyPlugin {
        @Override public String name() { return "misbehaving"; }
        @Override public List<ProcessorFactory> processorFactories() {
          return List.of(factory("faulty"), factory("slow"));
        }
        private static ProcessorFactory factory(String name) {
          return new ProcessorFactory() {
            @Override public String name() { return name; }
            @Override public String description() { return "Misbehaves."; }
            @Override public List<ParamSpec> params() { return List.of(); }
            @Override public LogitsProcessor create(Params params) {
              if (name.equals("faulty")) {
                return (candidates, context) -> {
                  TokenHistory h = context.history();
                  for (int i = 0; i < h.length(); i++) {
                    if (h.token(i) == 9) {
                      throw new IllegalStateException("boom: token 9");
                    }
                  }
                };
              }
              return (candidates, context) -> {
                while (!Boolean.getBoolean("tally.test.release")) {
                  Thread.onSpinWait();
                }
              };
            }
          };
        }
      }
      """;

  @BeforeAll
  static void start() throws Exception {
    Path plugins = dir.resolve("plugins");
    Path guava = plugins.resolve("guava-probe");
    Files.createDirectories(guava);
    Files.copy(PluginJar.oldGuava(), guava.resolve("guava-16.0.1.jar"));
    PluginJar.create().source("probe.guava.Plugin", GUAVA_PROBE).provider("probe.guava.Plugin")
        .compileAgainst(PluginJar.oldGuava())
        .manifest("Implementation-Version", "7.7.7")
        .manifest("Tally-Spi-Version", SpiVersion.CURRENT)
        .writeTo(guava.resolve("guava-probe.jar"));
    PluginJar.create().source("probe.bad.Plugin", MISBEHAVING).provider("probe.bad.Plugin")
        .writeTo(plugins.resolve("misbehaving/misbehaving.jar"));
    server = TestServer.start(ServerConfig.defaults().withSamplerThreads(2)
        .withStepDeadline(Duration.ofMillis(500)).withPluginDirs(List.of(plugins)));
  }

  @AfterAll
  static void stop() throws Exception {
    System.setProperty(RELEASE, "true"); // lets the stuck plugin threads end
    server.close();
  }

  private static Struct struct(Map<String, Value> fields) {
    return Struct.newBuilder().putAllFields(fields).build();
  }

  private static Value num(double d) {
    return Value.newBuilder().setNumberValue(d).build();
  }

  private static Value str(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }

  private static SamplingParams greedyWith(String processor, Struct params) {
    return SamplingParams.newBuilder().setTemperature(0f)
        .addProcessors(ProcessorSpec.newBuilder().setName(processor).setParams(params)).build();
  }

  @Test
  void aPluginBundlingAnOldGuavaAnswersWithItsOwnLibrary() throws Exception {
    // The server itself runs Guava 33, which has no toStringHelper any more.
    assertThatThrownBy(() -> Class.forName("com.google.common.base.Objects")
        .getMethod("toStringHelper", Object.class)).isInstanceOf(NoSuchMethodException.class);
    for (var channel : List.of(server.tcp, server.uds)) {
      SampleResponse r = server.blocking(channel).sample(SampleRequest.newBuilder()
          .addParams(greedyWith("guava_probe", Struct.getDefaultInstance()))
          .setLogits(f32(1, 6, 0f, 1f, 2f, 0f, 0f, 0f)).build());
      assertThat(r.getChoices(0).hasError()).as(r.toString()).isFalse();
      assertThat(r.getChoices(0).getTokenId()).isEqualTo(3);
    }
  }

  @Test
  void theCatalogueShowsPluginStagesWithVersionAndParameters() {
    List<ProcessorInfo> all = server.blocking(server.tcp)
        .listProcessors(ListProcessorsRequest.getDefaultInstance()).getProcessorsList();
    ProcessorInfo probe = all.stream().filter(p -> p.getName().equals("guava_probe")).findFirst()
        .orElseThrow();
    assertThat(probe.getKind()).isEqualTo(ProcessorKind.PROCESSOR);
    assertThat(probe.getPlugin()).isEqualTo("guava_probe");
    assertThat(probe.getVersion()).isEqualTo("7.7.7");
    assertThat(probe.getDescription()).isEqualTo("Boosts token 3 using Guava 16.");
    ParamInfo boost = probe.getParams(0);
    assertThat(boost.getName()).isEqualTo("boost");
    assertThat(boost.getType()).isEqualTo("number");
    assertThat(boost.getDefaultValue().getNumberValue()).isEqualTo(10.0);
    assertThat(boost.getMinimum()).isEqualTo(0.0);
    assertThat(boost.getMaximum()).isEqualTo(100.0);
    assertThat(probe.getParams(1).getAllowedValuesList()).containsExactly("a", "b");
    assertThat(all).extracting(ProcessorInfo::getName).contains("faulty", "slow", "top_k");
    assertThat(all).filteredOn(p -> p.getName().equals("faulty"))
        .extracting(ProcessorInfo::getPlugin).containsExactly("misbehaving");

    List<PluginInfo> plugins = server.blocking(server.tcp)
        .getServerInfo(GetServerInfoRequest.getDefaultInstance()).getPluginsList();
    // The server's own (built-ins, structured output), then the plugin directories'.
    assertThat(plugins).extracting(PluginInfo::getName)
        .containsExactly("builtin", "structured", "guava_probe", "misbehaving");
    assertThat(plugins.get(1).getProcessorsList()).containsExactly("regex", "json_schema");
    assertThat(plugins.get(3).getProcessorsList()).containsExactly("faulty", "slow");
  }

  @Test
  void tallyProcessorsPrintsTheCatalogueOfARunningServer() {
    for (String target : List.of("127.0.0.1:" + server.server.tcpPort(), "unix:" + server.socket)) {
      StringWriter out = new StringWriter();
      int status = new CommandLine(new TallyCommand()).setOut(new PrintWriter(out))
          .execute("processors", "--target", target);
      assertThat(status).isZero();
      String table = out.toString();
      assertThat(table).containsPattern("(?m)^NAME +KIND +PLUGIN +VERSION +DESCRIPTION$");
      assertThat(table).containsPattern("(?m)^guava_probe +processor +guava_probe +7\\.7\\.7 +"
          + "Boosts token 3");
      assertThat(table).contains("    boost (number) default=10 min=0 max=100: How much.");
      assertThat(table).contains("    label (string) default=\"a\" one of a|b: A label.");
      assertThat(table).containsPattern("(?m)^top_k +processor +builtin ");
    }
    StringWriter only = new StringWriter();
    new CommandLine(new TallyCommand()).setOut(new PrintWriter(only)).execute("processors",
        "--target", "127.0.0.1:" + server.server.tcpPort(), "--plugin", "misbehaving",
        "--no-params");
    assertThat(only.toString().lines()).hasSize(4).last().isEqualTo("2 stages");
  }

  private static void assertInvalid(Struct params, String field, String message) {
    try {
      server.blocking(server.tcp).sample(SampleRequest.newBuilder()
          .addParams(greedyWith("guava_probe", params)).setLogits(f32(1, 6, new float[6])).build());
      throw new AssertionError("expected INVALID_ARGUMENT");
    } catch (StatusRuntimeException e) {
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(e.getStatus().getDescription()).contains(message);
      com.google.rpc.Status status = StatusProto.fromThrowable(e);
      try {
        for (Any detail : status.getDetailsList()) {
          if (detail.is(BadRequest.class)) {
            assertThat(detail.unpack(BadRequest.class).getFieldViolations(0).getField())
                .isEqualTo(field);
          } else if (detail.is(ErrorInfo.class)) {
            assertThat(detail.unpack(ErrorInfo.class).getReason()).isEqualTo("INVALID_PARAMS");
          }
        }
      } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
        throw new AssertionError(ex);
      }
    }
  }

  @Test
  void pluginParametersAreValidatedBeforeAnyPluginCodeRuns() {
    String at = "params[0].processors[0].params.";
    assertInvalid(struct(Map.of("nope", num(1))), at + "nope",
        "processor 'guava_probe' has no parameter 'nope'; its parameters are [boost, label]");
    assertInvalid(struct(Map.of("boost", str("lots"))), at + "boost",
        "guava_probe.boost must be a number, got a string");
    assertInvalid(struct(Map.of("boost", num(1000))), at + "boost",
        "guava_probe.boost must be in [0, 100], got 1000");
    assertInvalid(struct(Map.of("label", str("c"))), at + "label",
        "guava_probe.label must be one of [a, b], got 'c'");
  }

  private static SessionRequest.Builder step(long id) {
    return SessionRequest.newBuilder().setStepId(id);
  }

  private static Sequence sequence(long id, String processor, int... prompt) {
    Sequence.Builder s = Sequence.newBuilder().setId(id).setParams(greedyWith(processor,
        Struct.getDefaultInstance()));
    for (int t : prompt) {
      s.addPromptTokenIds(t);
    }
    return s.build();
  }

  @Test
  void aThrowingPluginFailsOnlyItsRowAndTheSessionGoesOn() throws Exception {
    try (TestServer.SessionClient session = server.session(server.uds)) {
      SessionResponse r = session.step(step(1)
          .addAdded(sequence(1, "faulty", 9)).addAdded(sequence(2, "faulty", 1))
          .addRowSequenceIds(1).addRowSequenceIds(2)
          .setLogits(f32(2, 10, 0f, 0f, 5f, 0f, 0f, 0f, 0f, 0f, 0f, 0f,
              0f, 5f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f)).build());
      assertThat(r.hasError()).isFalse();
      TokenChoice failed = r.getChoices(0);
      assertThat(failed.getTokenId()).isEqualTo(-1);
      assertThat(failed.getError().getCode()).isEqualTo(Status.Code.INTERNAL.value());
      assertThat(failed.getError().getMessage()).contains("processor 'faulty'")
          .contains("plugin misbehaving").contains("boom: token 9");
      assertThat(r.getChoices(1).getTokenId()).isEqualTo(1);

      SessionResponse next = session.step(step(2).addRemoved(1).addRowSequenceIds(2)
          .setLogits(f32(1, 10, 0f, 0f, 0f, 7f, 0f, 0f, 0f, 0f, 0f, 0f)).build());
      assertThat(next.hasError()).isFalse();
      assertThat(next.getChoices(0).getTokenId()).isEqualTo(3);
    }
    // and the stateless RPC too: one row fails, the other is sampled
    SampleResponse unary = server.blocking(server.tcp).sample(SampleRequest.newBuilder()
        .addParams(greedyWith("faulty", Struct.getDefaultInstance()))
        .addHistories(TokenHistory.newBuilder().addPromptTokenIds(9))
        .addHistories(TokenHistory.newBuilder().addPromptTokenIds(1))
        .setLogits(f32(2, 10, 0f, 1f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f,
            1f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f)).build());
    assertThat(unary.getChoices(0).getTokenId()).isEqualTo(-1);
    assertThat(unary.getChoices(0).getError().getMessage()).contains("boom: token 9");
    assertThat(unary.getChoices(1).getTokenId()).isZero();
  }

  @Test
  void aPluginPastTheStepDeadlineFailsItsRowAndTheSessionGoesOn() throws Exception {
    try (TestServer.SessionClient session = server.session(server.tcp)) {
      for (int round = 0; round < 3; round++) { // more stuck rows than sampler threads
        long start = System.nanoTime();
        SessionResponse r = session.step(step(10 + round)
            .addAdded(sequence(100 + round, "slow", 1)).addAdded(sequence(200 + round, "faulty", 1))
            .addRowSequenceIds(100 + round).addRowSequenceIds(200 + round)
            .setLogits(f32(2, 3, 0f, 0f, 1f, 1f, 0f, 0f)).build());
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        assertThat(r.hasError()).isFalse();
        TokenChoice stuck = r.getChoices(0);
        assertThat(stuck.getTokenId()).isEqualTo(-1);
        assertThat(stuck.getError().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED.value());
        assertThat(stuck.getError().getMessage()).contains("row 0")
            .contains("plugin 'misbehaving'").contains("500ms");
        assertThat(r.getChoices(1).getTokenId()).isZero();
      }
      SessionResponse healthy = session.step(step(20).addAdded(sequence(300, "faulty", 1))
          .addRowSequenceIds(300).setLogits(f32(1, 3, 0f, 0f, 1f)).build());
      assertThat(healthy.getChoices(0).getTokenId()).isEqualTo(2);
    }
  }

  @Test
  void badPluginDirectoriesStopTheServerFromStarting() throws Exception {
    Path dup = dir.resolve("dup");
    PluginJar.simple("probe.d1", "d1", "same", "").writeTo(dup.resolve("d1/d1.jar"));
    PluginJar.simple("probe.d2", "d2", "same", "").writeTo(dup.resolve("d2/d2.jar"));
    assertThatThrownBy(() -> Servers.create(ServerConfig.defaults().withPluginDirs(List.of(dup))))
        .isInstanceOf(PluginLoadException.class)
        .hasMessageContaining("processor 'same' is provided twice")
        .hasMessageContaining("d1.jar").hasMessageContaining("d2.jar");

    Path future = dir.resolve("future");
    PluginJar.simple("probe.f", "f", "f", "")
        .manifest("Tally-Spi-Version", (SpiVersion.MAJOR + 1) + ".0")
        .writeTo(future.resolve("f/f.jar"));
    assertThatThrownBy(() -> Servers.create(ServerConfig.defaults()
        .withPluginDirs(List.of(future)))).isInstanceOf(PluginLoadException.class)
        .hasMessageContaining("f.jar").hasMessageContaining("SPI version " + (SpiVersion.MAJOR + 1));

    StringWriter err = new StringWriter();
    int status = new CommandLine(new TallyCommand()).setErr(new PrintWriter(err))
        .execute("serve", "--listen", "127.0.0.1:0", "--plugin-dir", dup.toString());
    assertThat(status).isEqualTo(2);
  }
}
