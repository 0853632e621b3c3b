package dev.tally.server.grpc;

import dev.tally.core.error.TallyException;
import io.grpc.Context;
import java.util.function.Consumer;

/**
 * Where a stream's malformed requests are answered in-band. {@link RequestGuard} puts one in the
 * {@link Context} of every call while the service opens it; a {@code Session} registers how it
 * answers a step, so a request that does not parse becomes a failed step and the stream goes on.
 * A call that registers nothing (a unary call) is closed with the error instead.
 */
final class MalformedSteps {
  static final Context.Key<MalformedSteps> KEY = Context.key("tally-malformed-steps");

  private volatile Consumer<TallyException> answer;

  /** Makes {@code answer} the current call's answer to a malformed request (if it has a guard). */
  static void register(Consumer<TallyException> answer) {
    MalformedSteps steps = KEY.get();
    if (steps != null) {
      steps.answer = answer;
    }
  }

  /** Answers {@code error} in-band; false when the call has no in-band answer. */
  boolean answer(TallyException error) {
    Consumer<TallyException> a = answer;
    if (a == null) {
      return false;
    }
    a.accept(error);
    return true;
  }
}
