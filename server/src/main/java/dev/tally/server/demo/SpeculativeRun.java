package dev.tally.server.demo;

import com.google.protobuf.ByteString;
import dev.tally.api.v1.DType;
import dev.tally.api.v1.DraftBlock;
import dev.tally.api.v1.FinishReason;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.Verdict;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The demo's speculative decoding: one setting decoded again with drafts, verified strictly by
 * Tally. The drafter is the model's own greedy continuation (a real server would use a small
 * model or n-gram lookup); each step sends the k + 1 rows of one forward pass over the drafts.
 */
final class SpeculativeRun {
  static final int DRAFT_TOKENS = 4;

  /** What the run did: the tokens it emitted, in how many steps, how many drafts were kept. */
  record Outcome(int[] tokens, int steps, int drafted, int accepted) {}

  private SpeculativeRun() {}

  /** Decodes up to {@code maxTokens} tokens after {@code prompt} with {@code params}. */
  static Outcome run(NgramModel model, SamplerGrpc.SamplerStub stub, SamplingParams params,
      int[] prompt, int maxTokens) throws InterruptedException, IOException {
    Replies replies = new Replies();
    StreamObserver<SessionRequest> session = stub.session(replies);
    int k = DRAFT_TOKENS;
    int[] history = Arrays.copyOf(prompt, prompt.length + maxTokens + k + 1);
    int length = prompt.length;
    int steps = 0;
    int drafted = 0;
    int accepted = 0;
    float[] row = new float[model.vocabSize()];
    boolean finished = false;
    Sequence.Builder sequence = Sequence.newBuilder().setId(1).setParams(params);
    for (int id : prompt) {
      sequence.addPromptTokenIds(id);
    }
    SessionRequest.Builder request = SessionRequest.newBuilder().addAdded(sequence);
    while (!finished && length - prompt.length < maxTokens) {
      int[] context = Arrays.copyOf(history, length + k);
      DraftBlock.Builder draft = DraftBlock.newBuilder().setSequenceId(1);
      for (int j = 0; j < k; j++) {
        model.logits(context, length + j, row);
        int best = 0;
        for (int v = 1; v < row.length; v++) {
          best = row[v] > row[best] ? v : best;
        }
        context[length + j] = best;
        draft.addTokenIds(best);
      }
      ByteBuffer data = ByteBuffer.allocate((k + 1) * row.length * 4)
          .order(ByteOrder.LITTLE_ENDIAN);
      for (int j = 0; j <= k; j++) { // row j: the logits after the first j draft tokens
        model.logits(context, length + j, row);
        for (float x : row) {
          data.putFloat(x);
        }
        request.addRowSequenceIds(1);
      }
      data.flip();
      request.setStepId(++steps).addDrafts(draft).setLogits(Logits.newBuilder()
          .setDtype(DType.DTYPE_FLOAT32).setRows(k + 1).setVocabSize(row.length)
          .setData(ByteString.copyFrom(data)));
      session.onNext(request.build());
      request = SessionRequest.newBuilder();
      Object reply = replies.poll();
      if (!(reply instanceof SessionResponse) || ((SessionResponse) reply).hasError()) {
        throw new IOException("the speculative session failed: " + reply);
      }
      drafted += k;
      for (TokenChoice c : ((SessionResponse) reply).getChoicesList()) {
        if (c.hasError()) {
          throw new IOException("a draft row failed: " + c.getError().getMessage());
        }
        if (c.getVerdict() == Verdict.VERDICT_DISCARDED) {
          continue;
        }
        accepted += c.getVerdict() == Verdict.VERDICT_ACCEPTED ? 1 : 0;
        history[length++] = c.getTokenId();
        finished = c.getFinishReason() != FinishReason.FINISH_REASON_NONE;
      }
    }
    session.onCompleted();
    return new Outcome(Arrays.copyOfRange(history, prompt.length, length), steps, drafted,
        accepted);
  }
}
