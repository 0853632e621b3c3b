package dev.tally.server.loadgen;

import com.google.protobuf.ByteString;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/** Runs a {@link LoadPlan} against a server: one thread and one Session stream per session. */
final class LoadGenerator {
  private final LoadPlan plan;
  private final String target;
  private final Recorder recorder = new Recorder(3);
  private final AtomicLong errors = new AtomicLong();
  private volatile boolean measuring;
  private volatile boolean stopping;

  LoadGenerator(LoadPlan plan, String target) {
    this.plan = plan;
    this.target = target;
  }

  BenchResult run(PrintStream progress) throws InterruptedException {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    ManagedChannel channel = channel(group);
    List<Thread> threads = new ArrayList<>();
    List<Logits> tensors = tensors();
    for (int s = 0; s < plan.sessions(); s++) {
      int session = s;
      Thread t = new Thread(() -> drive(SamplerGrpc.newStub(channel), tensors, session),
          "tally-bench-" + s);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
    Thread.sleep(plan.warmup().toMillis());
    recorder.getIntervalHistogram(); // drop the warm-up
    measuring = true;
    Histogram total = new Histogram(3);
    List<BenchResult.Interval> timeline = new ArrayList<>();
    long start = System.nanoTime();
    long end = start + plan.duration().toNanos();
    Histogram interval = null;
    while (System.nanoTime() < end) {
      Thread.sleep(Math.min(1000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
      interval = recorder.getIntervalHistogram(interval);
      total.add(interval);
      double at = (System.nanoTime() - start) / 1e9;
      timeline.add(new BenchResult.Interval(at, interval.getTotalCount(),
          interval.getValueAtPercentile(50) / 1e3, interval.getValueAtPercentile(99) / 1e3));
      double gbs = total.getTotalCount() * (double) plan.stepBytes() / 1e9 / at;
      progress.printf("\r  %5.1f s  steps %-7d p50 %6.2f ms  p99 %6.2f ms  %5.2f GB/s  errors %d ",
          at, total.getTotalCount(), total.getValueAtPercentile(50) / 1e3,
          total.getValueAtPercentile(99) / 1e3, gbs, errors.get());
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    measuring = false;
    stopping = true;
    progress.println();
    for (Thread t : threads) {
      t.join(10_000);
    }
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    return new BenchResult(total, timeline, seconds, plan, errors.get());
  }

  private ManagedChannel channel(EventLoopGroup group) {
    int max = (int) Math.min(Integer.MAX_VALUE, plan.stepBytes() + (1 << 20));
    ListenAddress address = ListenAddress.parse(target);
    NettyChannelBuilder b = address.isUnix()
        ? NettyChannelBuilder.forAddress(new DomainSocketAddress(address.socketPath().toString()))
            .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group)
        : NettyChannelBuilder.forTarget(target);
    return b.usePlaintext().maxInboundMessageSize(max).flowControlWindow(32 << 20).build();
  }

  /** Two random tensors to alternate, 3·N(0,1) logits as in the reference figures. */
  private List<Logits> tensors() {
    List<Logits> out = new ArrayList<>();
    Random r = new Random(1);
    for (int k = 0; k < 2; k++) {
      ByteBuffer b = ByteBuffer.allocate((int) plan.stepBytes()).order(ByteOrder.LITTLE_ENDIAN);
      for (long i = 0, n = (long) plan.batch() * plan.vocab(); i < n; i++) {
        float x = (float) (3 * r.nextGaussian());
        switch (plan.dtype()) {
          case DTYPE_FLOAT32:
            b.putFloat(x);
            break;
          case DTYPE_BFLOAT16:
            b.putShort((short) (Float.floatToIntBits(x) >>> 16));
            break;
          default:
            b.putShort(toHalf(x));
        }
      }
      b.flip();
      out.add(Logits.newBuilder().setDtype(plan.dtype()).setRows(plan.batch())
          .setVocabSize(plan.vocab()).setData(ByteString.copyFrom(b)).build());
    }
    return out;
  }

  /** float32 → binary16, truncating: good enough for benchmark noise. */
  private static short toHalf(float f) {
    int bits = Float.floatToIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exponent = ((bits >>> 23) & 0xff) - 127 + 15;
    if (exponent <= 0) {
      return (short) sign;
    }
    return (short) (sign | Math.min(exponent, 30) << 10 | (bits & 0x7fffff) >>> 13);
  }

  private void drive(SamplerGrpc.SamplerStub stub, List<Logits> tensors, int session) {
    BlockingQueue<Object> replies = new LinkedBlockingQueue<>();
    StreamObserver<SessionRequest> requests = stub.session(new StreamObserver<>() {
      @Override
      public void onNext(SessionResponse r) {
        replies.add(r);
      }

      @Override
      public void onError(Throwable t) {
        replies.add(t);
      }

      @Override
      public void onCompleted() {}
    });
    try {
      SessionRequest.Builder first = SessionRequest.newBuilder().setStepId(0);
      SharedSlots slots = plan.sharedMemory() ? SharedSlots.create(plan.stepBytes(), "bench-" + session) : null;
      if (slots != null) {
        first.addRegisterSharedMemory(slots.registration());
      }
      for (int i = 0; i < plan.batch(); i++) {
        first.addAdded(Sequence.newBuilder().setId(i).setParams(plan.params().toBuilder()
            .setSeed(session * 1000L + i)));
      }
      requests.onNext(first.build());
      Object registered = replies.take();
      if (slots != null) {
        slots.unlink(); // mapped by the server (or refused): no name left behind
        if (!(registered instanceof SessionResponse) || ((SessionResponse) registered).hasError()) {
          errors.incrementAndGet();
          System.err.println("tally bench: shared memory refused: " + (registered
              instanceof SessionResponse r ? r.getError().getMessage() : registered));
          return;
        }
      }
      SessionRequest.Builder step = SessionRequest.newBuilder();
      for (int i = 0; i < plan.batch(); i++) {
        step.addRowSequenceIds(i);
      }
      for (long n = 1; !stopping; n++) {
        long t0 = System.nanoTime();
        Logits tensor = tensors.get((int) (n & 1));
        // Shared memory: the client's one copy of the step into its slot counts in the step.
        SessionRequest request = step.setStepId(n)
            .setLogits(slots == null ? tensor : slots.write((int) (n & 1), tensor)).build();
        requests.onNext(request);
        Object reply = replies.poll(60, TimeUnit.SECONDS);
        long micros = (System.nanoTime() - t0) / 1000;
        if (!(reply instanceof SessionResponse) || ((SessionResponse) reply).hasError()) {
          errors.incrementAndGet();
          if (!(reply instanceof SessionResponse)) {
            return;
          }
        } else if (measuring) {
          recorder.recordValue(micros);
        }
      }
      requests.onCompleted();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
