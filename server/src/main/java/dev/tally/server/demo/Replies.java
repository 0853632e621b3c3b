package dev.tally.server.demo;

import dev.tally.api.v1.SessionResponse;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** What the server sends on one of the demo's Session streams, in order: responses or the error. */
final class Replies implements StreamObserver<SessionResponse> {
  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();

  @Override
  public void onNext(SessionResponse r) {
    queue.add(r);
  }

  @Override
  public void onError(Throwable t) {
    queue.add(t);
  }

  @Override
  public void onCompleted() {}

  /** The next reply (a SessionResponse or a Throwable) within 30 s, or null. */
  Object poll() throws InterruptedException {
    return queue.poll(30, TimeUnit.SECONDS);
  }
}
