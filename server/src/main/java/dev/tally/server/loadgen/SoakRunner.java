package dev.tally.server.loadgen;

import com.google.protobuf.ByteString;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.server.transport.ListenAddress;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.PrintStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code tally bench --soak}: many concurrent sessions (64 by default) spread over every given
 * address (Unix socket and TCP), each a random decode loop — sequences added with random params,
 * prompts and seeds, removed at random, rows in random order, logits regenerated from a per-step
 * seed. Every response is checked as it arrives: exactly one per request, in order (step id), no
 * error, one choice per row, tokens in range. Then every session is <em>replayed alone</em>, one
 * after another, over a fresh stream with the same requests: the tokens must be the same, token
 * for token (determinism under load). Heap, direct memory and RSS are sampled once a second.
 *
 * <p>Memory figures are of this JVM: with no {@code --target} the server runs in it too.
 */
public final class SoakRunner {
  /** What to run. */
  public record Plan(int sessions, int vocab, int maxRows, java.time.Duration duration,
      long seed) {}

  /** One memory sample. */
  public record MemorySample(double seconds, long heapUsed, long directUsed, long nettyDirect,
      long rss) {}

  /** The outcome. */
  public record Result(long steps, long rows, long errors, long mismatches, long replayedSteps,
      List<MemorySample> memory, List<String> problems) {
    public String summary() {
      StringBuilder b = new StringBuilder();
      b.append(String.format("soak: %d steps, %d rows, %d errors, %d mismatches (replayed %d steps)%n",
          steps, rows, errors, mismatches, replayedSteps));
      b.append("  t(s)   heap(MiB) direct(MiB) netty-direct(MiB) rss(MiB)\n");
      for (MemorySample m : memory) {
        b.append(String.format("  %5.1f  %9.1f %11.1f %16.1f %8.1f%n", m.seconds(),
            m.heapUsed() / 1048576.0, m.directUsed() / 1048576.0, m.nettyDirect() / 1048576.0,
            m.rss() / 1048576.0));
      }
      for (String p : problems.subList(0, Math.min(10, problems.size()))) {
        b.append("  problem: ").append(p).append('\n');
      }
      return b.toString();
    }
  }

  /** The result as JSON (no dependency: a handful of numbers). */
  public static String toJson(Result r) {
    StringBuilder b = new StringBuilder("{\n");
    b.append(String.format("  \"steps\": %d, \"rows\": %d, \"errors\": %d, \"mismatches\": %d,"
        + " \"replayed_steps\": %d,%n  \"memory\": [", r.steps(), r.rows(), r.errors(),
        r.mismatches(), r.replayedSteps()));
    for (int i = 0; i < r.memory().size(); i++) {
      MemorySample m = r.memory().get(i);
      b.append(i == 0 ? "\n" : ",\n").append(String.format(java.util.Locale.ROOT,
          "    {\"t\": %.1f, \"heap\": %d, \"direct\": %d, \"netty_direct\": %d, \"rss\": %d}",
          m.seconds(), m.heapUsed(), m.directUsed(), m.nettyDirect(), m.rss()));
    }
    return b.append("\n  ]\n}\n").toString();
  }

  private final Plan plan;
  private final List<String> targets;
  private final AtomicLong steps = new AtomicLong();
  private final AtomicLong rows = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicLong mismatches = new AtomicLong();
  private final List<String> problems = Collections.synchronizedList(new ArrayList<>());
  private volatile boolean stopping;

  public SoakRunner(Plan plan, List<String> targets) {
    this.plan = plan;
    this.targets = List.copyOf(targets);
  }

  /** One step as sent (without its logits, rebuilt from {@code logitsSeed}) and the tokens. */
  private record Step(SessionRequest request, long logitsSeed, int[] tokens) {}

  public Result run(PrintStream progress) throws InterruptedException {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
    List<ManagedChannel> channels = new ArrayList<>();
    for (String t : targets) {
      channels.add(channel(t, group));
    }
    List<List<Step>> logs = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int s = 0; s < plan.sessions(); s++) {
      List<Step> log = new ArrayList<>();
      logs.add(log);
      int session = s;
      ManagedChannel channel = channels.get(s % channels.size());
      Thread t = new Thread(() -> drive(SamplerGrpc.newStub(channel), session, log),
          "tally-soak-" + s);
      t.setDaemon(true);
      threads.add(t);
    }
    List<MemorySample> memory = new ArrayList<>();
    long start = System.nanoTime();
    threads.forEach(Thread::start);
    long end = start + plan.duration().toNanos();
    while (System.nanoTime() < end) {
      Thread.sleep(Math.min(1000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
      MemorySample m = sample((System.nanoTime() - start) / 1e9);
      memory.add(m);
      progress.printf("\r  %5.1f s  steps %-8d errors %d  heap %.0f MiB  direct %.1f MiB  rss %.0f MiB ",
          m.seconds(), steps.get(), errors.get(), m.heapUsed() / 1048576.0,
          m.directUsed() / 1048576.0, m.rss() / 1048576.0);
    }
    stopping = true;
    progress.println();
    for (Thread t : threads) {
      t.join(30_000);
    }
    // Replay every session alone, one after another, and compare token for token.
    long replayed = 0;
    for (int s = 0; s < plan.sessions(); s++) {
      replayed += replay(SamplerGrpc.newStub(channels.get(s % channels.size())), s, logs.get(s));
    }
    memory.add(sample((System.nanoTime() - start) / 1e9));
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    return new Result(steps.get(), rows.get(), errors.get(), mismatches.get(), replayed, memory,
        List.copyOf(problems));
  }

  /** Sessions open on the server at {@code target} (GetServerInfo.active_sessions). */
  public static int activeSessions(String target) throws InterruptedException {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    ManagedChannel c = channel(target, group);
    try {
      return SamplerGrpc.newBlockingStub(c).withDeadlineAfter(10, TimeUnit.SECONDS)
          .getServerInfo(GetServerInfoRequest.getDefaultInstance()).getActiveSessions();
    } finally {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  private static ManagedChannel channel(String target, EventLoopGroup group) {
    ListenAddress address = ListenAddress.parse(target);
    NettyChannelBuilder b = address.isUnix()
        ? NettyChannelBuilder.forAddress(new DomainSocketAddress(address.socketPath().toString()))
            .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group)
        : NettyChannelBuilder.forTarget(target);
    return b.usePlaintext().maxInboundMessageSize(64 << 20).build();
  }

  private static MemorySample sample(double seconds) {
    Runtime rt = Runtime.getRuntime();
    long direct = 0;
    for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
      if (pool.getName().equals("direct")) {
        direct = pool.getMemoryUsed();
      }
    }
    long netty = io.netty.util.internal.PlatformDependent.usedDirectMemory();
    return new MemorySample(seconds, rt.totalMemory() - rt.freeMemory(), direct,
        Math.max(0, netty), rss());
  }

  private static long rss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (Exception e) {
      // not Linux: no RSS figure
    }
    return -1;
  }

  /** A blocking, one-reply-per-request view of a Session stream. */
  private static final class Stream {
    final BlockingQueue<Object> replies = new LinkedBlockingQueue<>();
    final StreamObserver<SessionRequest> requests;

    Stream(SamplerGrpc.SamplerStub stub) {
      requests = stub.session(new StreamObserver<>() {
        @Override
        public void onNext(SessionResponse r) {
          replies.add(r);
        }

        @Override
        public void onError(Throwable t) {
          replies.add(t);
        }

        @Override
        public void onCompleted() {
          replies.add("completed");
        }
      });
    }

    Object step(SessionRequest r) throws InterruptedException {
      requests.onNext(r);
      Object reply = replies.poll(60, TimeUnit.SECONDS);
      return reply == null ? "timeout" : reply;
    }

    boolean finish() throws InterruptedException {
      requests.onCompleted();
      Object end = replies.poll(30, TimeUnit.SECONDS);
      return "completed".equals(end) && replies.isEmpty();
    }
  }

  private SamplingParams randomParams(SplittableRandom r, long seed) {
    SamplingParams.Builder p = SamplingParams.newBuilder().setSeed(seed);
    switch (r.nextInt(6)) {
      case 0 -> p.setTemperature(0f);
      case 1 -> p.setTemperature(0.8f).setTopP(0.9f);
      case 2 -> p.setTopK(1 + r.nextInt(40)).setTemperature(1.2f);
      case 3 -> p.setMinP(0.05f).setRepetitionPenalty(1.1f).setFrequencyPenalty(0.3f);
      case 4 -> p.setTemperature(0.7f).setTopLogprobs(r.nextInt(6));
      default -> p.setTypicalP(0.9f).setPresencePenalty(0.5f).setPenaltyLastN(16);
    }
    return p.build();
  }

  private Logits logits(long seed, int rowCount) {
    Random r = new Random(seed);
    ByteBuffer b = ByteBuffer.allocate(rowCount * plan.vocab() * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < rowCount * plan.vocab(); i++) {
      b.putFloat((float) (3 * r.nextGaussian()));
    }
    b.flip();
    return Logits.newBuilder().setDtype(DType.DTYPE_FLOAT32).setRows(rowCount)
        .setVocabSize(plan.vocab()).setData(ByteString.copyFrom(b)).build();
  }

  private void drive(SamplerGrpc.SamplerStub stub, int session, List<Step> log) {
    SplittableRandom r = new SplittableRandom(plan.seed() * 7919 + session);
    Stream stream = new Stream(stub);
    List<Long> live = new ArrayList<>();
    long nextId = 1;
    try {
      for (long n = 1; !stopping; n++) {
        SessionRequest.Builder req = SessionRequest.newBuilder().setStepId(n);
        int adds = live.size() < 2 ? 2 : r.nextInt(3) == 0 ? 1 + r.nextInt(2) : 0;
        for (int i = 0; i < adds && live.size() < 32; i++) {
          long id = nextId++;
          Sequence.Builder s = Sequence.newBuilder().setId(id)
              .setParams(randomParams(r, r.nextLong()));
          for (int t = r.nextInt(8); t > 0; t--) {
            s.addPromptTokenIds(r.nextInt(plan.vocab()));
          }
          req.addAdded(s);
          live.add(id);
        }
        if (live.size() > 3 && r.nextInt(4) == 0) {
          long gone = live.remove(r.nextInt(live.size()));
          req.addRemoved(gone);
        }
        List<Long> order = new ArrayList<>(live);
        Collections.shuffle(order, new Random(r.nextLong()));
        int rowCount = Math.min(order.size(), 1 + r.nextInt(plan.maxRows()));
        for (int i = 0; i < rowCount; i++) {
          req.addRowSequenceIds(order.get(i));
        }
        long logitsSeed = r.nextLong();
        SessionRequest bare = req.build();
        Object reply = stream.step(bare.toBuilder().setLogits(logits(logitsSeed, rowCount))
            .build());
        int[] tokens = check(session, n, bare, reply);
        if (tokens == null) {
          return;
        }
        log.add(new Step(bare, logitsSeed, tokens));
        steps.incrementAndGet();
        rows.addAndGet(rowCount);
      }
      if (!stream.finish()) {
        problem("session " + session + ": the stream did not end cleanly after half-close");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Checks one reply; returns its tokens, or null (counted as an error) when unusable. */
  private int[] check(int session, long stepId, SessionRequest request, Object reply) {
    if (!(reply instanceof SessionResponse)) {
      errors.incrementAndGet();
      problem("session " + session + " step " + stepId + ": " + reply);
      return null;
    }
    SessionResponse r = (SessionResponse) reply;
    if (r.getStepId() != stepId || r.hasError()
        || r.getChoicesCount() != request.getRowSequenceIdsCount()) {
      errors.incrementAndGet();
      problem("session " + session + " step " + stepId + ": answered step " + r.getStepId()
          + (r.hasError() ? " with " + r.getError().getMessage() : "") + ", "
          + r.getChoicesCount() + " choices for " + request.getRowSequenceIdsCount() + " rows");
      return null;
    }
    int[] tokens = new int[r.getChoicesCount()];
    for (int i = 0; i < tokens.length; i++) {
      TokenChoice c = r.getChoices(i);
      tokens[i] = c.getTokenId();
      if (c.hasError() || tokens[i] < 0 || tokens[i] >= plan.vocab()) {
        errors.incrementAndGet();
        problem("session " + session + " step " + stepId + " row " + i + ": token "
            + tokens[i] + (c.hasError() ? " " + c.getError().getMessage() : ""));
        return null;
      }
    }
    return tokens;
  }

  private long replay(SamplerGrpc.SamplerStub stub, int session, List<Step> log)
      throws InterruptedException {
    Stream stream = new Stream(stub);
    long n = 0;
    for (Step s : log) {
      Object reply = stream.step(s.request().toBuilder()
          .setLogits(logits(s.logitsSeed(), s.request().getRowSequenceIdsCount())).build());
      n++;
      if (!(reply instanceof SessionResponse r) || r.hasError()
          || r.getChoicesCount() != s.tokens().length) {
        mismatches.incrementAndGet();
        problem("replay of session " + session + " step " + s.request().getStepId() + ": " + reply);
        break;
      }
      for (int i = 0; i < s.tokens().length; i++) {
        if (r.getChoices(i).getTokenId() != s.tokens()[i]) {
          mismatches.incrementAndGet();
          problem("replay of session " + session + " step " + s.request().getStepId() + " row "
              + i + ": token " + s.tokens()[i] + " under load, "
              + r.getChoices(i).getTokenId() + " replayed alone");
        }
      }
    }
    stream.finish();
    return n;
  }

  private void problem(String p) {
    if (problems.size() < 100) {
      problems.add(p);
    }
  }
}
