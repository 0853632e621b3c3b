package dev.tally.plugins.dist;

import static dev.tally.plugins.dist.Wire.f32;
import static dev.tally.plugins.dist.Wire.list;
import static dev.tally.plugins.dist.Wire.num;
import static dev.tally.plugins.dist.Wire.stage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.tally.api.v1.ListProcessorsRequest;
import dev.tally.api.v1.LogprobsMode;
import dev.tally.api.v1.ParamInfo;
import dev.tally.api.v1.ProcessorInfo;
import dev.tally.api.v1.ProcessorKind;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.TokenHistory;
import dev.tally.api.v1.TokenLogprob;
import dev.tally.server.cli.TallyCommand;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.TallyServer;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The shipped plugins as users get them: the real server loads the default plugin directory the
 * build assembled (and the example plugin from a directory of its own), and clients use them over
 * gRPC.
 */
final class ShippedPluginsEndToEndTest {
  private static TallyServer server;
  private static ManagedChannel channel;

  @BeforeAll
  static void start() {
    Path example = Path.of(System.getProperty("tally.example.plugin", "target/example-plugin"));
    server = Servers.create(ServerConfig.defaults()
        .withListeners(List.of(ListenAddress.parse("127.0.0.1:0")))
        .withPluginDirs(List.of(PluginJarsTest.dist(), example))).start();
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.tcpPort()).usePlaintext()
        .build();
  }

  @AfterAll
  static void stop() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.stop();
  }

  private static SamplerGrpc.SamplerBlockingStub blocking() {
    return SamplerGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  private static Wire.Session session() {
    return new Wire.Session(SamplerGrpc.newStub(channel));
  }

  @Test
  void theCatalogueListsTheShippedPluginsWithTheirSchemas() {
    Map<String, ProcessorInfo> byName = new HashMap<>();
    blocking().listProcessors(ListProcessorsRequest.getDefaultInstance()).getProcessorsList()
        .forEach(p -> byName.put(p.getName(), p));
    assertThat(byName).containsKeys("mirostat", "mirostat_v2", "dry", "watermark",
        "example_token_budget", "example_confident_greedy", "top_k");
    ProcessorInfo v2 = byName.get("mirostat_v2");
    assertThat(v2.getKind()).isEqualTo(ProcessorKind.SELECTOR);
    assertThat(v2.getPlugin()).isEqualTo("mirostat");
    assertThat(v2.getVersion()).isEqualTo("0.1.0");
    assertThat(v2.getParamsList()).extracting(ParamInfo::getName).containsExactly("tau", "eta");
    assertThat(byName.get("mirostat").getParamsList()).extracting(ParamInfo::getName)
        .containsExactly("tau", "eta", "m");
    ProcessorInfo dry = byName.get("dry");
    assertThat(dry.getKind()).isEqualTo(ProcessorKind.PROCESSOR);
    assertThat(dry.getParamsList()).extracting(ParamInfo::getName).containsExactly("multiplier",
        "base", "allowed_length", "last_n", "sequence_breakers");
    assertThat(dry.getParams(4).getType()).isEqualTo("token_sequences");
    assertThat(dry.getParams(1).getDefaultValue().getNumberValue()).isEqualTo(1.75);
    assertThat(byName.get("watermark").getParamsList()).extracting(ParamInfo::getName)
        .containsExactly("gamma", "delta", "hash_key", "seeding_scheme");
    assertThat(byName.get("watermark").getParams(2).getDefaultValue().getNumberValue())
        .isEqualTo(15485863.0);
  }

  /** A Zipf-like row with noise. */
  private static float[] zipf(Random random, int vocab) {
    float[] l = new float[vocab];
    for (int i = 0; i < vocab; i++) {
      l[i] = (float) (-1.1 * Math.log(i + 1) + 0.3 * random.nextGaussian());
    }
    return l;
  }

  @Test
  void mirostatKeepsMuPerSequenceSoTheSurpriseSettlesAtTau() throws Exception {
    int vocab = 400;
    Random random = new Random(7);
    try (Wire.Session s = session()) {
      SamplingParams params = SamplingParams.newBuilder().setSeed(11)
          .addPipeline(stage("mirostat_v2", Map.of("tau", num(3.0)))).build();
      s.step(SessionRequest.newBuilder().setStepId(0).addAdded(Sequence.newBuilder().setId(1)
          .setParams(params).addPromptTokenIds(1)).build());
      double surprise = 0;
      int counted = 0;
      for (int step = 1; step <= 400; step++) {
        TokenChoice c = s.step(SessionRequest.newBuilder().setStepId(step).addRowSequenceIds(1)
            .setLogits(f32(1, vocab, zipf(random, vocab))).build()).getChoices(0);
        assertThat(c.hasError()).as(c.getError().getMessage()).isFalse();
        if (step > 200) {
          surprise += -c.getProcessedLogprob() / Math.log(2);
          counted++;
        }
      }
      System.out.printf("mirostat_v2 tau 3: mean surprise of steps 201-400 %.3f bits%n",
          surprise / counted);
      assertThat(surprise / counted).isCloseTo(3.0, within(0.35));
    }
  }

  @Test
  void dryReproducesLlamaCppsVectorOverTheWire() {
    // llama.cpp tests/test-sampling.cpp: test_dry({0.25 x4}, {0, 1, 2, 0, 1},
    //   {0.296923f, 0.296923f, 0.109232f, 0.296923f}, 1.0f, 1.1f, 2, 5, {})
    float l = (float) Math.log(0.25);
    SampleResponse r = blocking().sample(SampleRequest.newBuilder()
        .addParams(SamplingParams.newBuilder().setTopLogprobs(4)
            .setTopLogprobsMode(LogprobsMode.LOGPROBS_MODE_PROCESSED)
            .addPipeline(stage("dry", Map.of("multiplier", num(1), "base", num(1.1),
                "allowed_length", num(2), "last_n", num(5)))))
        .addHistories(TokenHistory.newBuilder().addAllPromptTokenIds(List.of(0, 1, 2))
            .addAllOutputTokenIds(List.of(0, 1)))
        .setLogits(f32(1, 4, l, l, l, l)).build());
    Map<Integer, Double> p = new HashMap<>();
    for (TokenLogprob t : r.getChoices(0).getTopLogprobsList()) {
      p.put(t.getTokenId(), Math.exp(t.getLogprob()));
    }
    assertThat(p.get(0)).isCloseTo(0.296923, within(1e-5));
    assertThat(p.get(1)).isCloseTo(0.296923, within(1e-5));
    assertThat(p.get(2)).isCloseTo(0.109232, within(1e-5));
    assertThat(p.get(3)).isCloseTo(0.296923, within(1e-5));
  }

  @Test
  void dryBreakersComeAsTokenIdSequences() {
    // 0 1 3 4 0 1 with breaker [[3]]: 3 would extend `0 1` but is a breaker: no penalty.
    SampleResponse r = blocking().sample(SampleRequest.newBuilder()
        .addParams(SamplingParams.newBuilder()
            .addPipeline(stage("dry", Map.of("multiplier", num(50),
                "sequence_breakers", list(list(num(3))))))
            .addPipeline(stage("greedy", Map.of())))
        .addHistories(TokenHistory.newBuilder().addAllOutputTokenIds(List.of(0, 1, 3, 4, 0, 1)))
        .setLogits(f32(1, 5, 0f, 0f, 0f, 1f, 0f)).build());
    assertThat(r.getChoices(0).getTokenId()).isEqualTo(3);
  }

  /** Generates {@code steps} tokens in a session; returns the output tokens. */
  private static List<Integer> generate(List<dev.tally.api.v1.ProcessorSpec> pipeline, int prompt,
      int steps, long seed) throws Exception {
    int vocab = 1000;
    Random random = new Random(seed);
    List<Integer> out = new ArrayList<>();
    try (Wire.Session s = session()) {
      s.step(SessionRequest.newBuilder().setStepId(0).addAdded(Sequence.newBuilder().setId(1)
          .setParams(SamplingParams.newBuilder().setSeed(seed).addAllPipeline(pipeline))
          .addPromptTokenIds(prompt)).build());
      for (int step = 1; step <= steps; step++) {
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
          logits[i] = (float) (1.5 * random.nextGaussian());
        }
        SessionResponse r = s.step(SessionRequest.newBuilder().setStepId(step)
            .addRowSequenceIds(1).setLogits(f32(1, vocab, logits)).build());
        out.add(r.getChoices(0).getTokenId());
      }
    }
    return out;
  }

  /** tally watermark-detect --json, as a user runs it. */
  private static Map<String, String> detect(int context, List<Integer> tokens) {
    List<String> args = new ArrayList<>(List.of("watermark-detect", "--vocab-size", "1000",
        "--context", Integer.toString(context), "--json"));
    tokens.forEach(t -> args.add(t.toString()));
    StringWriter out = new StringWriter();
    int status = new CommandLine(new TallyCommand()).setOut(new PrintWriter(out))
        .execute(args.toArray(String[]::new));
    assertThat(status).isZero();
    Map<String, String> fields = new HashMap<>();
    Matcher m = Pattern.compile("\"(\\w+)\": ([^,}]+)").matcher(out.toString());
    while (m.find()) {
      fields.put(m.group(1), m.group(2).trim());
    }
    return fields;
  }

  @Test
  void watermarkDetectionSeparatesWatermarkedFromPlainGenerations() throws Exception {
    for (long seed = 1; seed <= 3; seed++) {
      Map<String, String> marked = detect(17, generate(List.of(stage("watermark", Map.of()),
          stage("draw", Map.of())), 17, 150, seed));
      Map<String, String> plain = detect(17, generate(List.of(stage("draw", Map.of())), 17, 150,
          seed));
      System.out.printf("seed %d: watermarked %s; plain %s%n", seed, marked, plain);
      assertThat(marked.get("scored")).isEqualTo("150");
      assertThat(Double.parseDouble(marked.get("z_score"))).as("watermarked z").isGreaterThan(5);
      assertThat(marked.get("watermarked")).isEqualTo("true");
      assertThat(Math.abs(Double.parseDouble(plain.get("z_score")))).as("plain z").isLessThan(3);
      assertThat(plain.get("watermarked")).isEqualTo("false");
    }
  }

  @Test
  void theDetectorAndThePluginAgreeOnEveryGreenList() throws Exception {
    // delta +1000: the draw can only pick green tokens; -1000: only red ones. The detector, a
    // separate implementation of the green-list rule, must see exactly that.
    List<Integer> green = generate(List.of(stage("watermark", Map.of("delta", num(1000))),
        stage("draw", Map.of())), 5, 60, 9);
    assertThat(detect(5, green).get("green")).isEqualTo("60");
    List<Integer> red = generate(List.of(stage("watermark", Map.of("delta", num(-1000))),
        stage("draw", Map.of())), 5, 60, 9);
    assertThat(detect(5, red).get("green")).isEqualTo("0");
  }

  @Test
  void theExamplePluginLoadsFromItsOwnDirectoryAndKeepsItsStatePerSequence() throws Exception {
    try (Wire.Session s = session()) {
      SamplingParams params = SamplingParams.newBuilder()
          .addPipeline(stage("example_token_budget", Map.of("token_ids", list(num(1)))))
          .addPipeline(stage("greedy", Map.of())).build();
      s.step(SessionRequest.newBuilder().setStepId(0).addAdded(Sequence.newBuilder().setId(1)
          .setParams(params).addPromptTokenIds(1)).build());
      List<Integer> tokens = new ArrayList<>();
      for (int step = 1; step <= 3; step++) {
        tokens.add(s.step(SessionRequest.newBuilder().setStepId(step).addRowSequenceIds(1)
            .setLogits(f32(1, 3, 0f, 2f, 1f)).build()).getChoices(0).getTokenId());
      }
      assertThat(tokens).containsExactly(1, 2, 2);
    }
  }
}
