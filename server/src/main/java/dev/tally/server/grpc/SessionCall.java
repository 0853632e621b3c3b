package dev.tally.server.grpc;

import dev.tally.api.v1.DraftBlock;
import dev.tally.api.v1.Fork;
import dev.tally.api.v1.PromptScore;
import dev.tally.api.v1.ScoreSummary;
import dev.tally.api.v1.RegisterSharedMemoryRequest;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SequenceTokens;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.core.engine.RowResult;
import dev.tally.core.error.ErrorCode;
import dev.tally.core.error.TallyException;
import dev.tally.core.engine.RowSampler;
import dev.tally.core.session.AppendedTokens;
import dev.tally.core.session.DraftSpec;
import dev.tally.core.session.ForkSpec;
import dev.tally.core.session.PromptScoreSpec;
import dev.tally.core.session.SequenceSpec;
import dev.tally.core.session.SessionState;
import dev.tally.server.exec.RowJob;
import dev.tally.server.exec.SamplerPool;
import dev.tally.server.shm.RegionTable;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@code Session} stream: a model server's decode loop.
 *
 * <p>Steps run strictly one after another: the next request is asked for ({@code request(1)})
 * only once the current step has been answered, so the transport holds back the sender and
 * exactly one response goes out per request, in order. A bad step is answered with {@code
 * SessionResponse.error} and changes nothing; a bad row fails alone, and a row past the step
 * deadline fails with {@code DEADLINE_EXCEEDED} while the stream goes on. The session's sequences,
 * with their plugin states, are freed when the stream ends in any way: half-close, cancel,
 * disconnect or shutdown.
 */
final class SessionCall implements StreamObserver<SessionRequest> {
  private static final Logger log = LoggerFactory.getLogger(SessionCall.class);

  private final ServerCallStreamObserver<SessionResponse> out;
  private final SessionState state;
  private final SamplerPool pool;
  private final StepLimits limits;
  private final SessionTracker tracker;
  private final RegionTable regions; // this stream's in-band shared-memory regions
  private final RegionTable connectionRegions; // its connection's (unary registrations); may be null
  private final RequestBuffers buffers; // where the requests' arrays go back for reuse
  private volatile dev.tally.server.metrics.SessionStats stats; // metrics + log lines; may be null

  // Guarded by this: the stream may be closed from a sampler thread, a gRPC thread or shutdown.
  private boolean stepInFlight;
  private boolean halfClosed;
  private boolean draining;
  private boolean closed;
  // The next request is due but the client is not reading: asked for once it is ready again.
  private boolean requestWhenReady;

  SessionCall(ServerCallStreamObserver<SessionResponse> out, SessionState state, SamplerPool pool,
      StepLimits limits, SessionTracker tracker, RegionTable regions,
      RegionTable connectionRegions, RequestBuffers buffers) {
    this.buffers = buffers;
    this.regions = regions;
    this.connectionRegions = connectionRegions;
    this.out = out;
    this.state = state;
    this.pool = pool;
    this.limits = limits;
    this.tracker = tracker;
  }

  /** Counts this session's steps and errors (set before {@link #start()}). */
  SessionCall withStats(dev.tally.server.metrics.SessionStats s) {
    this.stats = s;
    return this;
  }

  /** Wires flow control and cancellation, then asks for the first step. */
  void start() {
    out.disableAutoRequest();
    out.setOnCancelHandler(this::cancelled);
    out.setOnReadyHandler(this::ready);
    tracker.opened(this);
    MalformedSteps.register(this::malformed);
    out.request(1);
  }

  /**
   * A request that did not parse: answered as a failed step with no step id (it is in the bytes
   * that did not parse), in order like every step; nothing changes and the stream goes on.
   */
  private void malformed(TallyException error) {
    synchronized (this) {
      if (closed) {
        return;
      }
      stepInFlight = true;
    }
    if (stats != null) {
      stats.error(error);
    }
    finishStep(SessionResponse.newBuilder().setError(Errors.toStatus(error)).build());
  }

  @Override
  public void onNext(SessionRequest request) {
    synchronized (this) {
      if (closed) {
        return;
      }
      stepInFlight = true;
    }
    long stepId = request.getStepId();
    final long received = System.nanoTime();
    final long logitsBytes = StepLogits.inlineBytes(request.getLogits());
    SessionState.Step step;
    int[] targets;
    StepLogits logits = null;
    List<String> registered = new ArrayList<>();
    try {
      registerRegions(request, registered);
      logits = request.hasLogits()
          ? StepLogits.of(request.getLogits(), limits, regions, connectionRegions) : null;
      int rowCount = logits == null ? 0 : logits.tensor().rows();
      targets = ProtoMapper.targets(request.getRowTargetTokenIdsList(), rowCount,
          logits == null ? 0 : logits.tensor().vocabSize(), "row_target_token_ids");
      checkNoTargetOnDrafts(request, targets);
      step = state.begin(added(request.getAddedList()), forks(request.getForksList()),
          toLongs(request.getRemovedList()), appended(request.getAppendedList()),
          drafts(request.getDraftsList()), promptScores(request.getPromptScoresList()),
          toLongs(request.getRowSequenceIdsList()), rowCount);
      unregisterRegions(request); // last: a step that fails before here changed nothing
    } catch (TallyException e) {
      if (stats != null) {
        stats.error(e);
      }
      undo(registered, logits);
      buffers.giveBack(request.getLogits().getData()); // nothing sampled from it
      finishStep(SessionResponse.newBuilder().setStepId(stepId).setError(Errors.toStatus(e))
          .build());
      return;
    } catch (RuntimeException e) {
      if (stats != null) {
        stats.error("INTERNAL", "INTERNAL");
      }
      undo(registered, logits);
      log.error("session step {} failed", stepId, e);
      finishStep(SessionResponse.newBuilder().setStepId(stepId)
          .setError(Errors.toStatus(Errors.internal(e))).build());
      return;
    }
    SessionState.Sequence[] rows = step.rows();
    if (rows.length == 0) {
      if (logits != null) {
        logits.release();
      }
      buffers.giveBack(request.getLogits().getData());
      if (stats != null) {
        stats.step(0, logitsBytes, System.nanoTime() - received, 0, 0);
      }
      finishStep(SessionResponse.newBuilder().setStepId(stepId).build());
      return;
    }
    RowJob[] jobs = new RowJob[rows.length];
    for (int i = 0; i < rows.length; i++) {
      PromptScoreSpec score = step.promptScoreAt(i);
      if (score != null) {
        // Row j scores prompt token start + j + 1 after the prefix before it, on the sequence's
        // chain without its state (built from the prefix, as Sample builds it).
        for (int j = 0; j < score.count(); j++) {
          int position = score.start() + j + 1;
          jobs[i + j] = new RowJob(rows[i].baseChain(), rows[i].history().promptPrefix(position),
              rows[i].seed(), rows[i].history().token(position));
        }
        i += score.count() - 1;
        continue;
      }
      int[] draft = step.draftAt(i);
      if (draft == null) {
        jobs[i] = new RowJob(rows[i].chain(), rows[i].history(), rows[i].seed(), targets[i]);
        continue;
      }
      // The block samples on a copy of the history that grows by each accepted draft token;
      // the sequence's own history takes the tokens the block emits, once it is answered.
      jobs[i] = new RowJob(rows[i].chain(), rows[i].history().copy(), rows[i].seed(),
          RowSampler.DRAW, draft);
      for (int j = 1; j <= draft.length; j++) {
        jobs[i + j] = RowJob.continuation(rows[i].seed());
      }
      i += draft.length;
    }
    final StepLogits stepLogits = logits;
    final long decoded = System.nanoTime();
    SamplerPool.StepFuture sampled;
    try {
      sampled = pool.sample(stepLogits.tensor(), jobs);
    } catch (RuntimeException e) {
      sampled = SamplerPool.StepFuture.failed(e);
    }
    SamplerPool.StepFuture timing = sampled;
    sampled.whenComplete((results, error) -> {
      try {
        SessionResponse.Builder response = SessionResponse.newBuilder().setStepId(stepId);
        // Every row is done with the logits, unless one was abandoned at its deadline and its
        // thread may still read them: only then (or after a failure) is the request's array not
        // reused.
        boolean logitsFree = error == null;
        if (error != null) {
          // The step is answered with an error: its registry changes must not stay (the proto
          // promises that a step answered with SessionResponse.error changed nothing).
          step.rollback();
          TallyException failure = stepLogits.failure(error);
          if (failure.code() == ErrorCode.INTERNAL) {
            log.error("session step {} failed", stepId, error);
          }
          if (stats != null) {
            stats.error(failure);
          }
          response.setError(Errors.toStatus(failure));
        } else {
          for (int i = 0; i < results.length; i++) {
            PromptScoreSpec score = step.promptScoreAt(i);
            if (score != null) { // prompt rows: scored, summed, and nothing joins the sequence
              response.addScoreSummaries(promptRows(results, i, score.count(), rows[i], response));
              i += score.count() - 1;
              continue;
            }
            RowResult r = sessionRow(results[i], i, rows[i]);
            double cumulative = 0;
            if (!r.failed() && r.verdict() != RowResult.Verdict.DISCARDED) {
              rows[i].history().append(r.tokenId()); // the chosen token joins its sequence
              cumulative = rows[i].addLogprob(r.logprob());
            } else if (r.failed() && r.error().code() == ErrorCode.DEADLINE_EXCEEDED) {
              // The abandoned row's thread may still be in the sequence's stage states: let them
              // go; the next step rebuilds them from the history.
              rows[i].discardState();
              logitsFree = false;
            }
            response.addChoices(ProtoMapper.toChoice(r, cumulative));
          }
        }
        stepLogits.release(); // before the response: the response frees the client's slot
        if (logitsFree) {
          buffers.giveBack(request.getLogits().getData());
        }
        if (stats != null) {
          long now = System.nanoTime();
          long started = timing.startedOr(now);
          stats.step(response, rows.length, logitsBytes, decoded - received, started - decoded,
              now - started);
        }
        finishStep(response.build());
      } catch (RuntimeException e) { // a bug in Tally: the step must still be answered
        log.error("session step {} failed", stepId, e);
        step.rollback();
        stepLogits.release(); // idempotent
        finishStep(SessionResponse.newBuilder().setStepId(stepId)
            .setError(Errors.toStatus(Errors.internal(e))).build());
      }
    });
  }

  /** Adds a prompt score's rows to the response; returns their summary. */
  private static ScoreSummary promptRows(RowResult[] results, int first, int count,
      SessionState.Sequence sequence, SessionResponse.Builder response) {
    double sum = 0;
    boolean allGreedy = true;
    int scored = 0;
    for (int j = first; j < first + count; j++) {
      RowResult r = sessionRow(results[j], j, sequence);
      if (!r.failed()) {
        sum += r.logprob();
        allGreedy &= r.isGreedy();
        scored++;
      }
      response.addChoices(ProtoMapper.toChoice(r, 0));
    }
    return ScoreSummary.newBuilder().setSequenceId(sequence.id()).setSumLogprob(sum)
        .setAllGreedy(allGreedy && scored > 0).setCount(scored).build();
  }

  /**
   * A row's result in Session terms. The engine names {@code histories} (the {@code Sample}
   * field) when a row's history holds a token outside the vocabulary; in a session the history is
   * the sequence's, so the error names {@code row_sequence_ids[i]} and the sequence id.
   */
  private static RowResult sessionRow(RowResult r, int row, SessionState.Sequence sequence) {
    if (!r.failed() || !"histories".equals(r.error().field())) {
      return r;
    }
    TallyException e = r.error();
    String field = "row_sequence_ids[" + row + "]";
    return RowResult.failure(new TallyException(e.code(), field, field + ": the history of sequence "
        + Long.toUnsignedString(sequence.id()) + " (prompt, output and appended tokens) holds token id "
        + sequence.history().maxTokenId() + ", outside the vocabulary of this step's logits; "
        + e.getMessage(), e.getCause()), r.seed());
  }

  /** The step's in-band registrations, first of all; {@code registered} collects their names. */
  private void registerRegions(SessionRequest request, List<String> registered) {
    for (int i = 0; i < request.getRegisterSharedMemoryCount(); i++) {
      RegisterSharedMemoryRequest r = request.getRegisterSharedMemory(i);
      regions.register(r.getName(), r.getKey(), r.getByteSize(), "register_shared_memory[" + i + "]");
      registered.add(r.getName());
    }
    // Unknown names fail the step before it changes anything.
    java.util.Set<String> live = new java.util.HashSet<>();
    regions.list().forEach(x -> live.add(x.name()));
    for (int i = 0; i < request.getUnregisterSharedMemoryCount(); i++) {
      String name = request.getUnregisterSharedMemory(i);
      if (!live.remove(name)) {
        throw new TallyException(ErrorCode.INVALID_SHARED_MEMORY, "unregister_shared_memory[" + i
            + "]", "unregister_shared_memory[" + i + "]: no region named " + name
            + " is registered in this session");
      }
    }
  }

  /** The step's unregistrations; a region this step reads stays mapped until it is answered. */
  private void unregisterRegions(SessionRequest request) {
    for (int i = 0; i < request.getUnregisterSharedMemoryCount(); i++) {
      regions.unregister(request.getUnregisterSharedMemory(i), "unregister_shared_memory[" + i + "]");
    }
  }

  /** A step that failed before sampling: its registrations and its lease go. */
  private void undo(List<String> registered, StepLogits logits) {
    if (logits != null) {
      logits.release();
    }
    for (String name : registered) {
      regions.unregister(name, "register_shared_memory");
    }
  }

  /** Answers the step, then asks for the next one or ends the stream. */
  private void finishStep(SessionResponse response) {
    boolean end;
    synchronized (this) {
      stepInFlight = false;
      if (closed) {
        return;
      }
      out.onNext(response);
      end = halfClosed || draining;
      if (end) {
        closeLocked(draining && !halfClosed);
      }
    }
    if (!end) {
      requestNext();
    }
  }

  @Override
  public void onError(Throwable t) {
    release(); // the client went away; nothing to answer
  }

  @Override
  public synchronized void onCompleted() {
    halfClosed = true;
    if (!stepInFlight && !closed) {
      closeLocked(false);
    }
  }

  /** Shutdown: end after the step in flight, if any. */
  synchronized void drain() {
    draining = true;
    if (!stepInFlight && !closed) {
      closeLocked(true);
    }
  }

  /**
   * Asks for the next step only while the client reads its responses: a client that stops reading
   * fills the HTTP/2 window, the stream turns not ready, and the session stops taking steps until
   * it is ready again, so nothing piles up in the server (the sender is held by flow control).
   */
  private void requestNext() {
    synchronized (this) {
      if (closed) {
        return;
      }
      if (!out.isReady()) {
        requestWhenReady = true;
        return;
      }
    }
    out.request(1);
  }

  private void ready() {
    boolean due;
    synchronized (this) {
      due = requestWhenReady && !closed;
      requestWhenReady = false;
    }
    if (due) {
      requestNext();
    }
  }

  private void cancelled() {
    release();
  }

  private void closeLocked(boolean unavailable) {
    closed = true;
    releaseLocked(); // first, so a client that sees the end never sees the session counted
    if (unavailable) {
      out.onError(Status.UNAVAILABLE.withDescription("the server is shutting down").asRuntimeException());
    } else {
      out.onCompleted();
    }
  }

  private synchronized void release() {
    closed = true;
    releaseLocked();
  }

  private void releaseLocked() {
    if (stats != null) {
      stats.closed(draining ? "shutdown" : halfClosed ? "completed" : "cancelled");
    }
    state.clear();
    regions.close();
    tracker.closed(this);
  }

  private static List<SequenceSpec> added(List<Sequence> sequences) {
    List<SequenceSpec> out = new ArrayList<>(sequences.size());
    for (Sequence s : sequences) {
      out.add(new SequenceSpec(s.getId(), ProtoMapper.toConfig(s.getParams()),
          ProtoMapper.toArray(s.getPromptTokenIdsList()),
          ProtoMapper.toArray(s.getOutputTokenIdsList()), s.getCumulativeLogprob()));
    }
    return out;
  }

  private static List<DraftSpec> drafts(List<DraftBlock> drafts) {
    List<DraftSpec> out = new ArrayList<>(drafts.size());
    for (DraftBlock d : drafts) {
      out.add(new DraftSpec(d.getSequenceId(), ProtoMapper.toArray(d.getTokenIdsList())));
    }
    return out;
  }

  private static List<PromptScoreSpec> promptScores(List<PromptScore> scores) {
    List<PromptScoreSpec> out = new ArrayList<>(scores.size());
    for (PromptScore p : scores) {
      out.add(new PromptScoreSpec(p.getSequenceId(), (int) Math.min(p.getStart() & 0xffffffffL,
          Integer.MAX_VALUE), (int) Math.min(p.getCount() & 0xffffffffL, Integer.MAX_VALUE)));
    }
    return out;
  }

  /**
   * A drafted or prompt-scored sequence's rows are verified or scored already, so none of them
   * may also have a target.
   */
  private static void checkNoTargetOnDrafts(SessionRequest request, int[] targets) {
    if (request.getDraftsCount() + request.getPromptScoresCount() == 0
        || request.getRowTargetTokenIdsCount() == 0) {
      return;
    }
    java.util.Map<Long, String> owned = new java.util.HashMap<>();
    request.getDraftsList().forEach(d -> owned.put(d.getSequenceId(), "a draft block"));
    request.getPromptScoresList().forEach(p -> owned.put(p.getSequenceId(), "a prompt score"));
    for (int i = 0; i < targets.length && i < request.getRowSequenceIdsCount(); i++) {
      String block = owned.get(request.getRowSequenceIds(i));
      if (targets[i] != RowSampler.DRAW && block != null) {
        throw TallyException.invalidParams("row_target_token_ids[" + i + "]",
            "row_target_token_ids[" + i + "] is " + targets[i] + ", but the row belongs to "
                + block + ": it must be -1");
      }
    }
  }

  private static List<ForkSpec> forks(List<Fork> forks) {
    List<ForkSpec> out = new ArrayList<>(forks.size());
    for (Fork f : forks) {
      out.add(new ForkSpec(f.getParentId(), f.getChildId(), f.hasSeed() ? f.getSeed() : null,
          f.hasSampleIndex() ? Integer.toUnsignedLong(f.getSampleIndex()) : null,
          ProtoMapper.toArray(f.getAppendTokenIdsList())));
    }
    return out;
  }

  private static List<AppendedTokens> appended(List<SequenceTokens> tokens) {
    List<AppendedTokens> out = new ArrayList<>(tokens.size());
    for (SequenceTokens t : tokens) {
      out.add(new AppendedTokens(t.getSequenceId(), ProtoMapper.toArray(t.getTokenIdsList())));
    }
    return out;
  }

  private static long[] toLongs(List<Long> ids) {
    long[] out = new long[ids.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ids.get(i);
    }
    return out;
  }
}
