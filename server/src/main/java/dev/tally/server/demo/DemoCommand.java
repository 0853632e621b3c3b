package dev.tally.server.demo;

import com.google.protobuf.ByteString;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.FinishReason;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.core.TallyVersion;
import dev.tally.server.config.ServerConfig;
import dev.tally.server.inject.Servers;
import dev.tally.server.loadgen.SharedSlots;
import dev.tally.server.transport.ListenAddress;
import dev.tally.server.transport.TallyServer;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tally demo}: a real server on a temporary Unix socket, and a model-server loop that
 * streams a small language model's logits through one {@code Session} — several sequences decoded
 * side by side, one row each, as continuous batching does — and prints what each setting wrote.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Start a server and generate text from a bundled model under several settings.")
public final class DemoCommand implements Callable<Integer> {
  @Option(names = "--prompt", description = "Prompt text (default: \"${DEFAULT-VALUE}\").")
  String prompt = "MENENIUS:";

  @Option(names = "--tokens", description = "Tokens to generate per setting (default: ${DEFAULT-VALUE}).")
  int tokens = 40;

  @Option(names = "--seed", description = "Seed of every sampled setting (default: ${DEFAULT-VALUE}).")
  long seed = 7;

  private final PrintStream out = System.out;

  /** A setting the demo shows: a label and its sampling parameters. */
  private record Setting(String label, SamplingParams params) {}

  @Override
  public Integer call() throws Exception {
    long started = System.nanoTime();
    NgramModel model = NgramModel.bundled();
    List<Setting> settings = settings(model);
    Path dir = Files.createTempDirectory("tally-demo-");
    Path socket = dir.resolve("tally.sock");
    boolean uds = Epoll.isAvailable();
    ListenAddress listen = ListenAddress.parse(uds ? "unix:" + socket : "127.0.0.1:0");
    TallyServer server = Servers.create(ServerConfig.defaults().withListeners(List.of(listen)))
        .start();
    EventLoopGroup group = uds ? new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory())
        : null;
    ManagedChannel channel = uds
        ? NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
            .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build()
        : NettyChannelBuilder.forAddress("127.0.0.1", server.tcpPort()).usePlaintext().build();
    // Shared memory where the server can map it (JDK 22+ and a /dev/shm): the logits are written
    // into a region of the demo's, and each step only names them.
    dev.tally.api.v1.SharedMemoryStatus shm = dev.tally.api.v1.SamplerGrpc.newBlockingStub(channel)
        .getSharedMemoryStatus(dev.tally.api.v1.GetSharedMemoryStatusRequest.getDefaultInstance());
    SharedSlots slots = shm.getSupported() && Files.isDirectory(Path.of("/dev/shm"))
        ? SharedSlots.create((long) settings.size() * model.vocabSize() * 4, "demo") : null;
    try {
      out.printf("Tally %s demo: a word-level trigram model of Shakespeare's Coriolanus"
          + " (%,d tokens)%nsampled by a Tally server on %s, through one Session.%n",
          TallyVersion.get(), model.vocabSize(), uds ? "unix:" + socket : "TCP port " + server.tcpPort());
      out.printf(slots != null
          ? "Logits by shared memory: each step is written into /dev/shm/%s and the request only"
              + " names the bytes.%n"
          : "Logits inline in each request (%s).%n", slots != null ? slots.name()
          : shm.getUnsupportedReason());
      dev.tally.api.v1.Vocabulary vocabulary = SamplerGrpc.newBlockingStub(channel)
          .registerVocabulary(registration(model)).getVocabulary();
      out.printf("Vocabulary '%s' registered (%,d tokens, fingerprint %s): stop strings read its"
          + " bytes.%n%n", vocabulary.getName(), vocabulary.getSize(),
          vocabulary.getFingerprint().substring(0, 12));
      List<Lane> lanes = generate(model, SamplerGrpc.newStub(channel), settings, slots);
      for (Lane lane : lanes) {
        print(model, lane);
      }
      speculative(model, SamplerGrpc.newStub(channel), lanes.get(1));
      out.printf("%d sequences in one session, in %.2f s. Try: ./tally demo --prompt"
          + " \"First Citizen:\" --seed 1%n", settings.size(), (System.nanoTime() - started) / 1e9);
    } finally {
      if (slots != null) {
        slots.unlink();
      }
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      if (group != null) {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
      server.stop();
      Files.deleteIfExists(socket);
      Files.deleteIfExists(dir);
    }
    return 0;
  }

  private List<Setting> settings(NgramModel model) {
    SamplingParams base = SamplingParams.newBuilder().addEosTokenIds(model.eosId())
        .setTopLogprobs(2).build();
    return List.of(
        new Setting("greedy (temperature 0)", base.toBuilder().setTemperature(0).build()),
        new Setting("temperature 0.7, top_p 0.9",
            base.toBuilder().setTemperature(0.7f).setTopP(0.9f).setSeed(seed).build()),
        new Setting("temperature 0.7, top_p 0.9, repetition_penalty 1.3",
            base.toBuilder().setTemperature(0.7f).setTopP(0.9f).setRepetitionPenalty(1.3f)
                .setSeed(seed).build()),
        new Setting("temperature 1.5",
            base.toBuilder().setTemperature(1.5f).setSeed(seed).build()),
        new Setting("greedy, stop strings \".\" \"?\" \"!\" (the sentence's end)",
            base.toBuilder().setTemperature(0).setVocabulary(VOCABULARY)
                .addStopStrings(".").addStopStrings("?").addStopStrings("!").build()),
        new Setting("greedy, structured_output: one of " + String.join(", ", SPEAKERS),
            base.toBuilder().setTemperature(0).setVocabulary(VOCABULARY)
                .setStructuredOutput(dev.tally.api.v1.StructuredOutput.newBuilder()
                    .setChoice(dev.tally.api.v1.Choice.newBuilder().addAllChoices(
                        SPEAKERS.stream().map(name -> " " + name).toList()))).build()));
  }

  private static final String VOCABULARY = "coriolanus-trigram";
  // Token bytes carry the space before a word (NgramModel.tokenBytes): so do the choices.
  private static final List<String> SPEAKERS = List.of("CORIOLANUS", "MENENIUS", "SICINIUS",
      "VOLUMNIA");

  /** The model's vocabulary, as the model server registers it once: each token's bytes. */
  private static dev.tally.api.v1.RegisterVocabularyRequest registration(NgramModel model) {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    dev.tally.api.v1.RegisterVocabularyRequest.Builder b =
        dev.tally.api.v1.RegisterVocabularyRequest.newBuilder().setName(VOCABULARY)
            .addSpecialTokenIds(model.eosId()).addEosTokenIds(model.eosId());
    for (int id = 0; id < model.vocabSize(); id++) {
      byte[] token = model.tokenBytes(id);
      bytes.writeBytes(token);
      b.addTokenLengths(token.length);
    }
    return b.setTokenBytes(ByteString.copyFrom(bytes.toByteArray())).build();
  }

  /** One sequence of the demo: a setting, its tokens so far and what Tally said of each. */
  private static final class Lane {
    final Setting setting;
    final int[] history;
    int length;
    final List<TokenChoice> choices = new ArrayList<>();
    boolean finished;
    boolean removed;

    Lane(Setting setting, int[] prompt, int capacity) {
      this.setting = setting;
      this.history = java.util.Arrays.copyOf(prompt, prompt.length + capacity);
      this.length = prompt.length;
    }
  }

  /**
   * The model-server loop: each step computes the logits of every live sequence, sends them as one
   * [rows × vocab] float32 tensor, and appends the tokens Tally chose. A sequence that draws EOS
   * leaves the batch (it is removed in the next step), as in continuous batching.
   */
  private List<Lane> generate(NgramModel model, SamplerGrpc.SamplerStub stub,
      List<Setting> settings, SharedSlots slots) throws InterruptedException, IOException {
    int[] promptIds = model.encode(prompt);
    List<Lane> lanes = new ArrayList<>();
    for (Setting s : settings) {
      lanes.add(new Lane(s, promptIds, tokens));
    }
    Replies replies = new Replies();
    StreamObserver<SessionRequest> session = stub.session(replies);
    float[] row = new float[model.vocabSize()];
    for (int step = 0; step < tokens; step++) {
      SessionRequest.Builder request = SessionRequest.newBuilder().setStepId(step);
      List<Lane> live = new ArrayList<>();
      for (int i = 0; i < lanes.size(); i++) {
        Lane lane = lanes.get(i);
        if (step == 0 && i == 0 && slots != null) {
          request.addRegisterSharedMemory(slots.registration());
        }
        if (step == 0) {
          request.addAdded(Sequence.newBuilder().setId(i).setParams(lane.setting.params())
              .addAllPromptTokenIds(boxed(promptIds)));
        }
        if (lane.finished && !lane.removed) {
          request.addRemoved(i);
          lane.removed = true;
        } else if (!lane.finished) {
          live.add(lane);
          request.addRowSequenceIds(i);
        }
      }
      if (live.isEmpty()) {
        break;
      }
      ByteBuffer data = ByteBuffer.allocate(live.size() * row.length * 4)
          .order(ByteOrder.LITTLE_ENDIAN);
      for (Lane lane : live) {
        model.logits(lane.history, lane.length, row);
        for (float x : row) {
          data.putFloat(x);
        }
      }
      data.flip();
      // One step in flight: its response frees the slot, so slot 0 serves every step.
      request.setLogits(slots != null
          ? slots.writeFloats(0, live.size(), row.length, data.asFloatBuffer())
          : Logits.newBuilder().setDtype(DType.DTYPE_FLOAT32).setRows(live.size())
              .setVocabSize(row.length).setData(ByteString.copyFrom(data)).build());
      session.onNext(request.build());
      Object reply = replies.poll();
      if (!(reply instanceof SessionResponse)) {
        throw new IOException("the session failed: " + reply);
      }
      SessionResponse response = (SessionResponse) reply;
      if (step == 0 && slots != null) {
        slots.unlink(); // mapped by the server now: no name is left behind, however we end
      }
      if (response.hasError()) {
        throw new IOException("step " + step + " failed: " + response.getError().getMessage());
      }
      for (int r = 0; r < live.size(); r++) {
        Lane lane = live.get(r);
        TokenChoice c = response.getChoices(r);
        if (c.hasError()) {
          throw new IOException("row " + r + " failed: " + c.getError().getMessage());
        }
        lane.choices.add(c);
        lane.history[lane.length++] = c.getTokenId();
        lane.finished = c.getFinishReason() != FinishReason.FINISH_REASON_NONE;
      }
    }
    session.onCompleted();
    return lanes;
  }

  /** The given lane decoded again with drafts: the same tokens, in fewer steps. */
  private void speculative(NgramModel model, SamplerGrpc.SamplerStub stub, Lane lane)
      throws InterruptedException, IOException {
    int promptLength = lane.length - lane.choices.size();
    int[] prompt = java.util.Arrays.copyOf(lane.history, promptLength);
    SpeculativeRun.Outcome o = SpeculativeRun.run(model, stub, lane.setting.params(), prompt,
        lane.choices.size());
    int[] plain = java.util.Arrays.copyOfRange(lane.history, promptLength, lane.length);
    boolean same = java.util.Arrays.equals(o.tokens(), 0, Math.min(o.tokens().length,
        plain.length), plain, 0, plain.length);
    out.printf("== speculative decoding: \"%s\" again, with %d-token greedy drafts verified"
        + " strictly%n", lane.setting.label(), SpeculativeRun.DRAFT_TOKENS);
    out.printf("   %d tokens in %d steps instead of %d: %d of %d draft tokens accepted;"
        + " %s%n%n", Math.min(o.tokens().length, plain.length), o.steps(), plain.length,
        o.accepted(), o.drafted(), same ? "the same tokens as without speculation"
            : "DIFFERENT tokens from the run without speculation");
  }

  private void print(NgramModel model, Lane lane) {
    double sum = 0;
    for (TokenChoice c : lane.choices) {
      sum += c.getLogprob();
    }
    int n = lane.choices.size();
    out.printf("== %s%n", lane.setting.label());
    String text = model.detokenize(lane.history, 0, lane.length).replace(NgramModel.EOS, "")
        .strip();
    for (String line : text.split("\n")) {
      out.println("   " + line);
    }
    TokenChoice last = lane.choices.get(n - 1);
    String ending = last.getFinishReason() == FinishReason.FINISH_REASON_STOP_STRING
        ? ", ended by stop string \"" + last.getStopString() + "\""
        : last.getFinishReason() == FinishReason.FINISH_REASON_EOS_TOKEN ? ", ended by EOS" : "";
    out.printf("   mean logprob %.2f (perplexity %.1f) over %d tokens%s%n", sum / n,
        Math.exp(-sum / n), n, ending);
    StringBuilder detail = new StringBuilder("   first tokens, with raw logprob and rank:");
    for (int i = 0; i < Math.min(8, n); i++) {
      TokenChoice c = lane.choices.get(i);
      String token = model.token(c.getTokenId()).replace("\n", "\\n");
      detail.append(String.format(Locale.ROOT, " %s(%.2f #%d)", token, c.getLogprob(),
          c.getRank()));
    }
    out.println(detail);
    out.println();
  }

  private static List<Integer> boxed(int[] ids) {
    List<Integer> out = new ArrayList<>(ids.length);
    for (int id : ids) {
      out.add(id);
    }
    return out;
  }
}
