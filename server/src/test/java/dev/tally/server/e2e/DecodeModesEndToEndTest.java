package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import dev.tally.api.v1.Fork;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.RegisterVocabularyRequest;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SequenceTokens;
import dev.tally.api.v1.ServerInfo;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.StructuredOutput;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.TokenHistory;
import dev.tally.api.v1.Verdict;
import dev.tally.core.random.CounterRandom;
import io.grpc.Status;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Decode modes over a real socket (docs/decode-modes.md): n samples under one seed
 * ({@code sample_index}), forks that continue exactly as a replayed sequence (penalty window,
 * min_tokens progress and a structured-output state included), the cumulative logprob, and
 * teacher forcing in {@code Session} and {@code Sample}. Logits come from a toy model: a keyed
 * hash of the sequence's tokens, so a replayed sequence sees the same rows.
 */
final class DecodeModesEndToEndTest {
  private static final String VOCABULARY = "decode-modes";
  private static final int EOS = 0;
  // EOS, 'a'..'z' (ids 1-26), '0'..'9' (27-36), ' ' (37); two padded ids past the vocabulary.
  private static final int SIZE = 38;
  private static final int WIDTH = SIZE + 2;
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    RegisterVocabularyRequest.Builder r = RegisterVocabularyRequest.newBuilder()
        .setName(VOCABULARY).addSpecialTokenIds(EOS).addEosTokenIds(EOS);
    for (int id = 0; id < SIZE; id++) {
      byte[] t = (id == EOS ? "<eos>" : String.valueOf(text(id))).getBytes(StandardCharsets.UTF_8);
      bytes.writeBytes(t);
      r.addTokenLengths(t.length);
    }
    server.blocking(server.uds).registerVocabulary(
        r.setTokenBytes(ByteString.copyFrom(bytes.toByteArray())).build());
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  private static char text(int id) {
    return id <= 26 ? (char) ('a' + id - 1) : id <= 36 ? (char) ('0' + id - 27) : ' ';
  }

  /** The toy model: a row of 2·N(0,1) logits keyed by every token of the sequence so far. */
  private static float[] model(List<Integer> tokens) {
    long key = 1469598103934665603L;
    for (int t : tokens) {
      key = (key ^ t) * 1099511628211L;
    }
    SplittableRandom r = new SplittableRandom(key);
    float[] row = new float[WIDTH];
    for (int v = 0; v < WIDTH; v++) {
      row[v] = (float) (2 * r.nextGaussian());
    }
    return row;
  }

  private static final List<Integer> PROMPT = List.of(3, 1, 20, 37);

  /** Drawing params with the stateful rules: a penalty window and min_tokens. */
  private static SamplingParams.Builder params() {
    return SamplingParams.newBuilder().setTemperature(0.9f).setTopP(0.95f)
        .setRepetitionPenalty(1.3f).setPenaltyLastN(6).setMinTokens(3).addEosTokenIds(EOS)
        .setTopLogprobs(3);
  }

  /** A sequence being decoded: its id, its tokens (prompt + output) and what came back. */
  private static final class Lane {
    final long id;
    final List<Integer> tokens;
    final List<TokenChoice> choices = new ArrayList<>();

    Lane(long id, List<Integer> tokens) {
      this.id = id;
      this.tokens = new ArrayList<>(tokens);
    }
  }

  /** {@code steps} rows for every lane still going (EOS ends a lane), each from the toy model. */
  private static void decode(TestServer.SessionClient session, long[] step, List<Lane> lanes,
      int steps) throws Exception {
    for (int t = 0; t < steps; t++) {
      List<Lane> live = lanes.stream().filter(l -> l.choices.isEmpty() || l.choices
          .get(l.choices.size() - 1).getTokenId() != EOS).toList();
      if (live.isEmpty()) {
        return;
      }
      SessionRequest.Builder s = SessionRequest.newBuilder().setStepId(step[0]++);
      float[] rows = new float[live.size() * WIDTH];
      for (int i = 0; i < live.size(); i++) {
        System.arraycopy(model(live.get(i).tokens), 0, rows, i * WIDTH, WIDTH);
        s.addRowSequenceIds(live.get(i).id);
      }
      SessionResponse r = session.step(s.setLogits(TestServer.f32(live.size(), WIDTH, rows))
          .build());
      assertThat(r.hasError()).as("%s", r.getError()).isFalse();
      for (int i = 0; i < live.size(); i++) {
        TokenChoice c = r.getChoices(i);
        assertThat(c.hasError()).as("%s", c.getError()).isFalse();
        live.get(i).choices.add(c);
        live.get(i).tokens.add(c.getTokenId());
      }
    }
  }

  private static void assertSameStream(List<TokenChoice> actual, List<TokenChoice> expected,
      String what) {
    assertThat(actual).as(what).hasSameSizeAs(expected);
    for (int i = 0; i < actual.size(); i++) {
      TokenChoice a = actual.get(i);
      TokenChoice e = expected.get(i);
      assertThat(a.getTokenId()).as("%s, token %d", what, i).isEqualTo(e.getTokenId());
      assertThat(a.getLogprob()).as("%s, logprob %d", what, i).isEqualTo(e.getLogprob());
      assertThat(a.getProcessedLogprob()).isEqualTo(e.getProcessedLogprob());
      assertThat(a.getTopLogprobsList()).isEqualTo(e.getTopLogprobsList());
      assertThat(a.getCumulativeLogprob()).as("%s, cumulative %d", what, i)
          .isEqualTo(e.getCumulativeLogprob());
      assertThat(a.getSeed()).isEqualTo(e.getSeed());
    }
  }

  private static Sequence sequence(long id, SamplingParams p, List<Integer> prompt,
      List<Integer> output, double cumulative) {
    return Sequence.newBuilder().setId(id).setParams(p).addAllPromptTokenIds(prompt)
        .addAllOutputTokenIds(output).setCumulativeLogprob(cumulative).build();
  }

  @Test
  void theChildrenOfOneSeedAreFreshSequencesWithDerivedSeeds() throws Exception {
    long seed = 77;
    List<Lane> children = new ArrayList<>();
    List<Lane> fresh = new ArrayList<>();
    try (TestServer.SessionClient a = server.session(server.uds);
        TestServer.SessionClient b = server.session(server.uds)) {
      long[] stepA = {1};
      long[] stepB = {1};
      SessionRequest.Builder addA = SessionRequest.newBuilder().setStepId(stepA[0]++);
      SessionRequest.Builder addB = SessionRequest.newBuilder().setStepId(stepB[0]++);
      for (int i = 0; i < 8; i++) {
        addA.addAdded(sequence(i + 1, params().setSeed(seed).setSampleIndex(i).build(), PROMPT,
            List.of(), 0));
        addB.addAdded(sequence(i + 1, params().setSeed(CounterRandom.deriveSeed(seed, i)).build(),
            PROMPT, List.of(), 0));
        children.add(new Lane(i + 1, PROMPT));
        fresh.add(new Lane(i + 1, PROMPT));
      }
      assertThat(a.step(addA.build()).hasError()).isFalse();
      assertThat(b.step(addB.build()).hasError()).isFalse();
      decode(a, stepA, children, 12);
      decode(b, stepB, fresh, 12);
    }
    List<List<Integer>> outputs = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      Lane child = children.get(i);
      assertSameStream(child.choices, fresh.get(i).choices, "child " + i);
      assertThat(child.choices.get(0).getSeed()).isEqualTo(CounterRandom.deriveSeed(seed, i));
      double sum = 0;
      for (TokenChoice c : child.choices) {
        sum += c.getLogprob();
        assertThat(c.getCumulativeLogprob()).isEqualTo(sum);
      }
      outputs.add(child.tokens.subList(PROMPT.size(), child.tokens.size()));
    }
    assertThat(outputs).as("eight different samples").doesNotHaveDuplicates();
  }

  @Test
  void aForkContinuesExactlyAsAReplayOfItsTokensAndLeavesTheParentAlone() throws Exception {
    // A constraint whose state the fork must copy: 2-8 letters, then a space and digits.
    SamplingParams p = params().setSeed(2026).setVocabulary(VOCABULARY)
        .setStructuredOutput(StructuredOutput.newBuilder().setRegex("[a-z]{2,8}( [0-9]{1,4})?"))
        .build();
    Lane parent = new Lane(1, PROMPT);
    Lane child = new Lane(2, PROMPT);
    Lane alone = new Lane(1, PROMPT);
    Lane replay = new Lane(5, PROMPT);
    try (TestServer.SessionClient s = server.session(server.uds);
        TestServer.SessionClient control = server.session(server.uds)) {
      long[] step = {1};
      assertThat(s.step(SessionRequest.newBuilder().setStepId(step[0]++)
          .addAdded(sequence(1, p, PROMPT, List.of(), 0)).build()).hasError()).isFalse();
      decode(s, step, List.of(parent), 3);
      assertThat(parent.choices).hasSize(3);
      // Fork with sample index 4 and one appended token the constraint allows (a digit after the
      // space, else a letter: 'q'), then decode parent and child in one batch.
      int appended = parent.tokens.get(parent.tokens.size() - 1) == 37 ? 32 : 17;
      SessionResponse forked = s.step(SessionRequest.newBuilder().setStepId(step[0]++)
          .addForks(Fork.newBuilder().setParentId(1).setChildId(2).setSampleIndex(4)
              .addAppendTokenIds(appended)).build());
      assertThat(forked.hasError()).as("%s", forked.getError()).isFalse();
      child.tokens.clear();
      child.tokens.addAll(parent.tokens);
      child.tokens.add(appended);
      decode(s, step, List.of(parent, child), 8);

      long[] controlStep = {1};
      double atFork = parent.choices.get(2).getCumulativeLogprob();
      List<Integer> output = new ArrayList<>(parent.tokens.subList(PROMPT.size(),
          PROMPT.size() + 3));
      output.add(appended);
      replay.tokens.addAll(output);
      assertThat(control.step(SessionRequest.newBuilder().setStepId(controlStep[0]++)
          .addAdded(sequence(1, p, PROMPT, List.of(), 0))
          .addAdded(sequence(5, p.toBuilder().setSeed(CounterRandom.deriveSeed(2026, 4)).build(),
              PROMPT, output, atFork)).build()).hasError()).isFalse();
      decode(control, controlStep, List.of(alone, replay), 11);
    }
    assertSameStream(parent.choices, alone.choices.subList(0, parent.choices.size()), "parent");
    assertSameStream(child.choices, replay.choices.subList(0, child.choices.size()), "child");
    assertThat(child.choices.get(0).getSeed()).isEqualTo(CounterRandom.deriveSeed(2026, 4));
    String text = text(child.tokens.subList(PROMPT.size(), child.tokens.size()));
    assertThat(text).as("the child kept the parent's constraint state")
        .matches("[a-z]{2,8}( [0-9]{1,4})?(<eos>)?");
  }

  private static String text(List<Integer> tokens) {
    StringBuilder b = new StringBuilder();
    for (int t : tokens) {
      b.append(t == EOS ? "<eos>" : String.valueOf(text(t)));
    }
    return b.toString();
  }

  @Test
  void teacherForcingScoresTheGivenTokenAppendsItAndAgreesWithSample() throws Exception {
    SamplingParams p = params().clearTopP().setSeed(5).build(); // no truncation: only EOS masked
    List<Integer> tokens = new ArrayList<>(PROMPT);
    try (TestServer.SessionClient s = server.session(server.uds)) {
      assertThat(s.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(sequence(1, p, PROMPT, List.of(), 0)).build()).hasError()).isFalse();
      int[] given = {12, 12, EOS, 5}; // token 12 twice: the second one is penalised
      double sum = 0;
      for (int t = 0; t < given.length + 1; t++) {
        float[] row = model(tokens);
        boolean forced = t < given.length;
        SessionRequest.Builder r = SessionRequest.newBuilder().setStepId(t + 2)
            .addRowSequenceIds(1).setLogits(TestServer.f32(1, WIDTH, row));
        if (forced) {
          r.addRowTargetTokenIds(given[t]);
        }
        TokenChoice c = s.step(r.build()).getChoices(0);
        assertThat(c.hasError()).as("%s", c.getError()).isFalse();
        // The stateless Sample with the same history gives the same numbers.
        SampleRequest.Builder q = SampleRequest.newBuilder().addParams(p)
            .addHistories(TokenHistory.newBuilder().addAllPromptTokenIds(PROMPT)
                .addAllOutputTokenIds(tokens.subList(PROMPT.size(), tokens.size())))
            .setLogits(TestServer.f32(1, WIDTH, row));
        if (forced) {
          q.addTargetTokenIds(given[t]);
        }
        TokenChoice same = server.blocking(server.uds).sample(q.build()).getChoices(0);
        assertThat(c.getTokenId()).isEqualTo(same.getTokenId());
        assertThat(c.getLogprob()).isEqualTo(same.getLogprob());
        assertThat(c.getProcessedLogprob()).isEqualTo(same.getProcessedLogprob());
        assertThat(c.getRank()).isEqualTo(same.getRank());
        assertThat(c.getIsGreedy()).isEqualTo(same.getIsGreedy());
        assertThat(c.getVerdict()).isEqualTo(same.getVerdict());
        assertThat(same.getCumulativeLogprob()).isEqualTo(same.getLogprob());
        sum += c.getLogprob();
        assertThat(c.getCumulativeLogprob()).isEqualTo(sum);
        if (forced) {
          assertThat(c.getTokenId()).isEqualTo(given[t]);
          // min_tokens (3) masks EOS while the output is shorter: the forced EOS at output 2
          // keeps its raw logprob but has no processed probability.
          assertThat(c.getProcessedLogprob() == Float.NEGATIVE_INFINITY).isEqualTo(t == 2);
          assertThat(c.getVerdict()).isEqualTo(Verdict.VERDICT_SCORED);
          assertThat(c.getFinishReason())
              .isEqualTo(dev.tally.api.v1.FinishReason.FINISH_REASON_NONE);
          double lse = 0;
          float max = Float.NEGATIVE_INFINITY;
          int argmax = -1;
          for (int v = 0; v < WIDTH; v++) {
            if (row[v] > max) {
              max = row[v];
              argmax = v;
            }
          }
          for (float x : row) {
            lse += Math.exp((double) x - max);
          }
          assertThat((double) c.getLogprob()).isCloseTo(row[given[t]] - max - Math.log(lse),
              org.assertj.core.api.Assertions.within(1e-5));
          assertThat(c.getIsGreedy()).isEqualTo(given[t] == argmax);
        } else {
          assertThat(c.getVerdict()).isEqualTo(Verdict.VERDICT_UNSPECIFIED);
        }
        tokens.add(c.getTokenId());
      }
    }
  }

  @Test
  void aForcedEosUnderMinTokensHasNoProcessedProbability() throws Exception {
    SamplingParams p = params().setSeed(5).build();
    TokenChoice c = server.blocking(server.uds).sample(SampleRequest.newBuilder().addParams(p)
        .setLogits(TestServer.f32(1, WIDTH, model(PROMPT))).addTargetTokenIds(EOS).build())
        .getChoices(0);
    assertThat(c.getVerdict()).isEqualTo(Verdict.VERDICT_SCORED);
    assertThat(c.getProcessedLogprob()).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(c.getLogprob()).isGreaterThan(Float.NEGATIVE_INFINITY);
  }

  @Test
  void badForksAndTargetsAreAnsweredInBandAndTheSessionGoesOn() throws Exception {
    try (TestServer.SessionClient s = server.session(server.uds)) {
      assertThat(s.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(sequence(1, params().build(), PROMPT, List.of(), 0)).build()).hasError())
          .isFalse();
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(2)
          .addForks(Fork.newBuilder().setParentId(9).setChildId(2)).build()),
          Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE", "forks[0]: sequence 9 is not registered");
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(3)
          .addForks(Fork.newBuilder().setParentId(1).setChildId(1)).build()),
          Status.Code.ALREADY_EXISTS, "DUPLICATE_SEQUENCE",
          "forks[0]: sequence 1 is already registered");
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(4)
          .addForks(Fork.newBuilder().setParentId(1).setChildId(2))
          .addRowSequenceIds(2).addRowTargetTokenIds(WIDTH)
          .setLogits(TestServer.f32(1, WIDTH, model(PROMPT))).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS",
          "row_target_token_ids[0] is 40: a token id in [0, 40) to score, or -1 to draw");
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(5)
          .addRowSequenceIds(1).addRowTargetTokenIds(1).addRowTargetTokenIds(2)
          .setLogits(TestServer.f32(1, WIDTH, model(PROMPT))).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS",
          "row_target_token_ids must be empty or have one entry per row (1), got 2");
      // Nothing of those steps stayed: child 2 does not exist, and the next fork makes it.
      SessionResponse ok = s.step(SessionRequest.newBuilder().setStepId(6)
          .addForks(Fork.newBuilder().setParentId(1).setChildId(2))
          .addRowSequenceIds(1).addRowSequenceIds(2).addRowTargetTokenIds(-1)
          .addRowTargetTokenIds(7)
          .setLogits(TestServer.f32(2, WIDTH, concat(model(PROMPT), model(PROMPT)))).build());
      assertThat(ok.hasError()).as("%s", ok.getError()).isFalse();
      assertThat(ok.getChoices(0).getVerdict()).isEqualTo(Verdict.VERDICT_UNSPECIFIED);
      assertThat(ok.getChoices(1).getTokenId()).isEqualTo(7);
      assertThat(ok.getChoices(1).getVerdict()).isEqualTo(Verdict.VERDICT_SCORED);
    }
  }

  private static float[] concat(float[] a, float[] b) {
    float[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  private static void assertStepError(SessionResponse r, Status.Code code, String reason,
      String message) throws InvalidProtocolBufferException {
    assertThat(r.hasError()).as("the step fails as a whole").isTrue();
    assertThat(r.getChoicesCount()).isZero();
    assertThat(r.getError().getCode()).as(r.getError().getMessage()).isEqualTo(code.value());
    assertThat(r.getError().getMessage()).isEqualTo(message);
    ErrorInfo info = null;
    for (com.google.protobuf.Any any : r.getError().getDetailsList()) {
      if (any.is(ErrorInfo.class)) {
        info = any.unpack(ErrorInfo.class);
      }
    }
    assertThat(info).isNotNull();
    assertThat(info.getReason()).isEqualTo(reason);
  }

  @Test
  void serverInfoListsTheDecodeModesAndTheForkLimit() {
    ServerInfo info = server.blocking(server.uds).getServerInfo(
        GetServerInfoRequest.getDefaultInstance());
    assertThat(info.getFeaturesList())
        .containsExactly("fork", "sample_index", "score", "verify.strict");
    assertThat(info.getLimits().getMaxForkChildrenPerStep())
        .isEqualTo(info.getLimits().getMaxRows());
    assertThat(info.getLimits().getMaxDraftTokens()).isEqualTo(64);
  }

  @Test
  void appendedTokensOfAForkedChildAreItsOwn() throws Exception {
    try (TestServer.SessionClient s = server.session(server.uds)) {
      assertThat(s.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(sequence(1, params().setSeed(1).build(), PROMPT, List.of(), 0))
          .addForks(Fork.newBuilder().setParentId(1).setChildId(2))
          .addAppended(SequenceTokens.newBuilder().setSequenceId(1).addTokenIds(9)).build())
          .hasError()).isFalse();
      // Same seed, and only the parent has the 9: the same row gives each its own penalties.
      float[] row = model(PROMPT);
      SessionResponse r = s.step(SessionRequest.newBuilder().setStepId(2).addRowSequenceIds(1)
          .addRowSequenceIds(2).setLogits(TestServer.f32(2, WIDTH, concat(row, row))).build());
      TokenChoice parent = r.getChoices(0);
      TokenChoice child = r.getChoices(1);
      TokenChoice expectParent = server.blocking(server.uds).sample(SampleRequest.newBuilder()
          .addParams(params().setSeed(1)).addHistories(TokenHistory.newBuilder()
              .addAllPromptTokenIds(PROMPT).addOutputTokenIds(9))
          .setLogits(TestServer.f32(1, WIDTH, row)).build()).getChoices(0);
      TokenChoice expectChild = server.blocking(server.uds).sample(SampleRequest.newBuilder()
          .addParams(params().setSeed(1)).addHistories(TokenHistory.newBuilder()
              .addAllPromptTokenIds(PROMPT))
          .setLogits(TestServer.f32(1, WIDTH, row)).build()).getChoices(0);
      assertThat(parent.getTokenId()).isEqualTo(expectParent.getTokenId());
      assertThat(parent.getProcessedLogprob()).isEqualTo(expectParent.getProcessedLogprob());
      assertThat(child.getTokenId()).isEqualTo(expectChild.getTokenId());
      assertThat(child.getProcessedLogprob()).isEqualTo(expectChild.getProcessedLogprob());
    }
  }

  @Test
  void aTargetTheConstraintForbidsIsScoredMinusInfinityAndFailsTheNextRowLikeAnAppendedToken()
      throws Exception {
    SamplingParams p = params().setSeed(3).setVocabulary(VOCABULARY)
        .setStructuredOutput(StructuredOutput.newBuilder().setRegex("[a-z]+")).build();
    try (TestServer.SessionClient s = server.session(server.uds)) {
      assertThat(s.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(sequence(1, p, PROMPT, List.of(), 0)).build()).hasError()).isFalse();
      TokenChoice scored = s.step(SessionRequest.newBuilder().setStepId(2).addRowSequenceIds(1)
          .addRowTargetTokenIds(30).setLogits(TestServer.f32(1, WIDTH, model(PROMPT))).build())
          .getChoices(0); // '3': not a letter
      assertThat(scored.getVerdict()).isEqualTo(Verdict.VERDICT_SCORED);
      assertThat(scored.getProcessedLogprob()).isEqualTo(Float.NEGATIVE_INFINITY);
      TokenChoice next = s.step(SessionRequest.newBuilder().setStepId(3).addRowSequenceIds(1)
          .setLogits(TestServer.f32(1, WIDTH, model(PROMPT))).build()).getChoices(0);
      assertThat(next.getTokenId()).isEqualTo(-1);
      assertThat(next.getError().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      assertThat(next.getError().getMessage()).contains("token 30");
    }
  }

  // ---- strict verification of drafts -------------------------------------------------------

  /** The chains the verification must be exact for: penalties, min_tokens, truncation, a mask. */
  private static List<SamplingParams> verifiedChains() {
    return List.of(params().setSeed(11).build(),
        params().setSeed(12).setTopK(5).setMinP(0.05f).build(),
        params().setSeed(13).setTemperature(0).build(),
        params().setSeed(14).setVocabulary(VOCABULARY).setStructuredOutput(
            StructuredOutput.newBuilder().setRegex("[a-z]{2,6}( [0-9]{1,3})? ?")).build());
  }

  /** The stream decoding without speculation gives: up to {@code n} choices, to EOS. */
  private static List<TokenChoice> plainStream(SamplingParams p, int n) throws Exception {
    Lane lane = new Lane(1, PROMPT);
    try (TestServer.SessionClient s = server.session(server.uds)) {
      long[] step = {1};
      assertThat(s.step(SessionRequest.newBuilder().setStepId(step[0]++)
          .addAdded(sequence(1, p, PROMPT, List.of(), 0)).build()).hasError()).isFalse();
      decode(s, step, List.of(lane), n);
    }
    return lane.choices;
  }

  /**
   * Strict verification emits exactly the stream decoding without speculation gives, token for
   * token and logprob for logprob, for every k and adversarial drafts (the true next token 60 %
   * of the time, else a random one, EOS included).
   */
  @Test
  void strictVerificationEmitsExactlyTheStreamWithoutSpeculation() throws Exception {
    int n = 14;
    int endedInsideADraft = 0;
    int corrected = 0;
    int bonus = 0;
    for (SamplingParams p : verifiedChains()) {
      List<TokenChoice> plain = plainStream(p, n);
      for (int k : new int[] {1, 2, 3, 5}) {
        SplittableRandom drafts = new SplittableRandom(k * 7919L + p.getSeed());
        List<TokenChoice> emitted = new ArrayList<>();
        List<Integer> tokens = new ArrayList<>(PROMPT);
        try (TestServer.SessionClient s = server.session(server.uds)) {
          long step = 1;
          assertThat(s.step(SessionRequest.newBuilder().setStepId(step++)
              .addAdded(sequence(1, p, PROMPT, List.of(), 0)).build()).hasError()).isFalse();
          while (emitted.size() < plain.size()) {
            int done = emitted.size();
            int[] draft = new int[k];
            for (int j = 0; j < k; j++) {
              int truth = done + j < plain.size() ? plain.get(done + j).getTokenId() : EOS;
              draft[j] = drafts.nextInt(10) < 6 ? truth : drafts.nextInt(SIZE);
            }
            // Row j: the toy model's logits after the drafts before it.
            SessionRequest.Builder r = SessionRequest.newBuilder().setStepId(step++)
                .addDrafts(dev.tally.api.v1.DraftBlock.newBuilder().setSequenceId(1)
                    .addAllTokenIds(Arrays.stream(draft).boxed().toList()));
            float[] rows = new float[(k + 1) * WIDTH];
            List<Integer> context = new ArrayList<>(tokens);
            for (int j = 0; j <= k; j++) {
              System.arraycopy(model(context), 0, rows, j * WIDTH, WIDTH);
              r.addRowSequenceIds(1);
              if (j < k) {
                context.add(draft[j]);
              }
            }
            SessionResponse resp = s.step(r.setLogits(TestServer.f32(k + 1, WIDTH, rows)).build());
            assertThat(resp.hasError()).as("%s", resp.getError()).isFalse();
            boolean ended = false;
            for (int j = 0; j <= k; j++) {
              TokenChoice c = resp.getChoices(j);
              assertThat(c.hasError()).as("%s", c.getError()).isFalse();
              if (ended) {
                assertThat(c.getVerdict()).isEqualTo(Verdict.VERDICT_DISCARDED);
                assertThat(c.getTokenId()).isEqualTo(-1);
                continue;
              }
              Verdict expected = j == k ? Verdict.VERDICT_BONUS
                  : c.getTokenId() == draft[j] ? Verdict.VERDICT_ACCEPTED
                  : Verdict.VERDICT_CORRECTED;
              assertThat(c.getVerdict()).as("k %d row %d", k, j).isEqualTo(expected);
              if (j < k) {
                assertThat(c.getAcceptanceProbability()).isBetween(0f, 1f);
                if (expected == Verdict.VERDICT_ACCEPTED) {
                  assertThat(c.getAcceptanceProbability()).isPositive();
                }
              }
              corrected += expected == Verdict.VERDICT_CORRECTED ? 1 : 0;
              bonus += expected == Verdict.VERDICT_BONUS ? 1 : 0;
              emitted.add(c);
              tokens.add(c.getTokenId());
              ended = expected != Verdict.VERDICT_ACCEPTED
                  || c.getFinishReason() != dev.tally.api.v1.FinishReason.FINISH_REASON_NONE;
              if (ended && j < k && expected == Verdict.VERDICT_ACCEPTED) {
                endedInsideADraft++;
              }
            }
            if (emitted.get(emitted.size() - 1).getFinishReason()
                != dev.tally.api.v1.FinishReason.FINISH_REASON_NONE) {
              break;
            }
          }
        }
        // The same choices as without speculation, verdict and acceptance aside.
        List<TokenChoice> bare = emitted.stream().map(c -> c.toBuilder().clearVerdict()
            .clearAcceptanceProbability().build()).toList();
        // (The last block may run past the n plain tokens; a stream that ended ends there too.)
        int common = Math.min(bare.size(), plain.size());
        assertThat(bare.subList(0, common)).as("k %d, params %s", k, p)
            .isEqualTo(plain.subList(0, common));
        assertThat(common).isEqualTo(plain.size());
        if (plain.size() < n) {
          assertThat(bare).as("ended at the same EOS").hasSameSizeAs(plain);
        }
      }
    }
    assertThat(corrected).as("drafts corrected").isPositive();
    assertThat(bonus).as("bonus rows").isPositive();
    assertThat(endedInsideADraft).as("an accepted EOS ended a block early").isPositive();
  }

  @Test
  void badDraftBlocksAreAnsweredInBandAndChangeNothing() throws Exception {
    try (TestServer.SessionClient s = server.session(server.uds)) {
      assertThat(s.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(sequence(1, params().build(), PROMPT, List.of(), 0)).build()).hasError())
          .isFalse();
      float[] two = concat(model(PROMPT), model(PROMPT));
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(2)
          .addDrafts(dev.tally.api.v1.DraftBlock.newBuilder().setSequenceId(1).addTokenIds(3)
              .addTokenIds(4))
          .addRowSequenceIds(1).addRowSequenceIds(1).setLogits(TestServer.f32(2, WIDTH, two))
          .build()), Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS", "row_sequence_ids[0]:"
          + " sequence 1 has a draft block of 2 tokens (drafts[0]), so it needs 3 consecutive rows;"
          + " it has 2");
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(3)
          .addDrafts(dev.tally.api.v1.DraftBlock.newBuilder().setSequenceId(8).addTokenIds(3))
          .addRowSequenceIds(1).setLogits(TestServer.f32(1, WIDTH, model(PROMPT))).build()),
          Status.Code.NOT_FOUND, "UNKNOWN_SEQUENCE", "drafts[0]: sequence 8 is not registered");
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(4)
          .addDrafts(dev.tally.api.v1.DraftBlock.newBuilder().setSequenceId(1).addTokenIds(3))
          .addRowSequenceIds(1).addRowSequenceIds(1).addRowTargetTokenIds(-1)
          .addRowTargetTokenIds(5).setLogits(TestServer.f32(2, WIDTH, two)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS", "row_target_token_ids[1] is 5, but the"
          + " row belongs to a draft block: it must be -1");
      dev.tally.api.v1.DraftBlock.Builder big = dev.tally.api.v1.DraftBlock.newBuilder()
          .setSequenceId(1);
      for (int i = 0; i < 65; i++) {
        big.addTokenIds(3);
      }
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(5).addDrafts(big)
          .addRowSequenceIds(1).setLogits(TestServer.f32(1, WIDTH, model(PROMPT))).build()),
          Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED",
          "drafts[0] has 65 tokens; a block holds 1 to 64 (max_draft_tokens)");
      // The session goes on, and the first real step still draws its first token.
      TokenChoice first = s.step(SessionRequest.newBuilder().setStepId(6).addRowSequenceIds(1)
          .setLogits(TestServer.f32(1, WIDTH, model(PROMPT))).build()).getChoices(0);
      assertThat(first.getCumulativeLogprob()).isEqualTo(first.getLogprob());
    }
  }

  // ---- prompt scoring ------------------------------------------------------------------------

  private static final int SCORED_PROMPT = 40;

  private static List<Integer> longPrompt() {
    SplittableRandom r = new SplittableRandom(40);
    List<Integer> p = new ArrayList<>();
    for (int i = 0; i < SCORED_PROMPT; i++) {
      p.add(1 + r.nextInt(SIZE - 1));
    }
    return p;
  }

  /** Scores prompt tokens 1..39 of sequence 1 in chunks of {@code chunk} rows. */
  private static List<SessionResponse> scoreInChunks(SamplingParams p, int chunk)
      throws Exception {
    List<Integer> prompt = longPrompt();
    List<SessionResponse> out = new ArrayList<>();
    try (TestServer.SessionClient s = server.session(server.uds)) {
      assertThat(s.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(sequence(1, p, prompt, List.of(), 0)).build()).hasError()).isFalse();
      long step = 2;
      for (int start = 0; start < SCORED_PROMPT - 1; start += chunk) {
        int count = Math.min(chunk, SCORED_PROMPT - 1 - start);
        SessionRequest.Builder r = SessionRequest.newBuilder().setStepId(step++)
            .addPromptScores(dev.tally.api.v1.PromptScore.newBuilder().setSequenceId(1)
                .setStart(start).setCount(count));
        float[] rows = new float[count * WIDTH];
        for (int j = 0; j < count; j++) {
          System.arraycopy(model(prompt.subList(0, start + j + 1)), 0, rows, j * WIDTH, WIDTH);
          r.addRowSequenceIds(1);
        }
        SessionResponse resp = s.step(r.setLogits(TestServer.f32(count, WIDTH, rows)).build());
        assertThat(resp.hasError()).as("%s", resp.getError()).isFalse();
        out.add(resp);
      }
      // The registry is unchanged: the first draw after scoring is the sequence's first token.
      TokenChoice first = s.step(SessionRequest.newBuilder().setStepId(step).addRowSequenceIds(1)
          .setLogits(TestServer.f32(1, WIDTH, model(prompt))).build()).getChoices(0);
      TokenChoice expected = server.blocking(server.uds).sample(SampleRequest.newBuilder()
          .addParams(p).addHistories(TokenHistory.newBuilder().addAllPromptTokenIds(prompt))
          .setLogits(TestServer.f32(1, WIDTH, model(prompt))).build()).getChoices(0);
      assertThat(first.getTokenId()).isEqualTo(expected.getTokenId());
      assertThat(first.getCumulativeLogprob()).isEqualTo(first.getLogprob());
    }
    return out;
  }

  @Test
  void promptScoresAreExactInAnyChunkingAndLeaveTheSequenceAlone() throws Exception {
    SamplingParams p = params().setSeed(9).setTopK(8).build();
    List<Integer> prompt = longPrompt();
    List<SessionResponse> one = scoreInChunks(p, SCORED_PROMPT);
    List<SessionResponse> seven = scoreInChunks(p, 6); // 6 × 6 + 3 rows: seven chunks
    assertThat(one).hasSize(1);
    assertThat(seven).hasSize(7);
    List<TokenChoice> a = one.get(0).getChoicesList();
    List<TokenChoice> b = seven.stream().flatMap(r -> r.getChoicesList().stream()).toList();
    assertThat(b).isEqualTo(a);
    double sum = 0;
    double reference = 0;
    boolean allGreedy = true;
    for (int j = 0; j < a.size(); j++) {
      TokenChoice c = a.get(j);
      int token = prompt.get(j + 1);
      assertThat(c.getTokenId()).isEqualTo(token);
      assertThat(c.getVerdict()).isEqualTo(Verdict.VERDICT_SCORED);
      float[] row = model(prompt.subList(0, j + 1));
      double max = Double.NEGATIVE_INFINITY;
      for (float x : row) {
        max = Math.max(max, x);
      }
      double lse = 0;
      for (float x : row) {
        lse += Math.exp(x - max);
      }
      reference += row[token] - max - Math.log(lse);
      sum += c.getLogprob();
      allGreedy &= c.getIsGreedy();
      // Processed: the chain with the prefix as the history, exactly as Sample gives it.
      TokenChoice alone = server.blocking(server.uds).sample(SampleRequest.newBuilder()
          .addParams(p).addHistories(TokenHistory.newBuilder()
              .addAllPromptTokenIds(prompt.subList(0, j + 1)))
          .addTargetTokenIds(token).setLogits(TestServer.f32(1, WIDTH, row)).build())
          .getChoices(0);
      assertThat(c.toBuilder().clearCumulativeLogprob().build())
          .isEqualTo(alone.toBuilder().clearCumulativeLogprob().build());
    }
    dev.tally.api.v1.ScoreSummary whole = one.get(0).getScoreSummaries(0);
    assertThat(whole.getSequenceId()).isEqualTo(1);
    assertThat(whole.getCount()).isEqualTo(SCORED_PROMPT - 1);
    assertThat(whole.getSumLogprob()).isEqualTo(sum);
    assertThat(whole.getSumLogprob()).isCloseTo(reference,
        org.assertj.core.api.Assertions.within(1e-4));
    assertThat(whole.getAllGreedy()).isEqualTo(allGreedy);
    double chunked = seven.stream().mapToDouble(r -> r.getScoreSummaries(0).getSumLogprob()).sum();
    assertThat(chunked).isCloseTo(sum, org.assertj.core.api.Assertions.within(1e-9));
    assertThat(seven.stream().mapToInt(r -> r.getScoreSummaries(0).getCount()).sum())
        .isEqualTo(SCORED_PROMPT - 1);
  }

  @Test
  void badPromptScoresAreAnsweredInBand() throws Exception {
    List<Integer> prompt = longPrompt();
    try (TestServer.SessionClient s = server.session(server.uds)) {
      assertThat(s.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(sequence(1, params().build(), prompt, List.of(), 0)).build()).hasError())
          .isFalse();
      float[] two = concat(model(prompt), model(prompt));
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(2)
          .addPromptScores(dev.tally.api.v1.PromptScore.newBuilder().setSequenceId(1)
              .setStart(38).setCount(2))
          .addRowSequenceIds(1).addRowSequenceIds(1).setLogits(TestServer.f32(2, WIDTH, two))
          .build()), Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS", "prompt_scores[0] scores"
          + " prompt tokens 39 to 40, but the prompt of sequence 1 has 40 tokens (0 to 39; token 0"
          + " is never scored) and count must be at least 1");
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(3)
          .addPromptScores(dev.tally.api.v1.PromptScore.newBuilder().setSequenceId(1)
              .setStart(0).setCount(3))
          .addRowSequenceIds(1).addRowSequenceIds(1).setLogits(TestServer.f32(2, WIDTH, two))
          .build()), Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS", "row_sequence_ids[0]:"
          + " sequence 1 has a prompt score of 3 rows (prompt_scores[0]), so it needs 3"
          + " consecutive rows; it has 2");
      assertStepError(s.step(SessionRequest.newBuilder().setStepId(4)
          .addPromptScores(dev.tally.api.v1.PromptScore.newBuilder().setSequenceId(1)
              .setStart(0).setCount(2))
          .addRowSequenceIds(1).addRowSequenceIds(1).addRowTargetTokenIds(3)
          .addRowTargetTokenIds(-1).setLogits(TestServer.f32(2, WIDTH, two)).build()),
          Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS", "row_target_token_ids[0] is 3, but"
          + " the row belongs to a prompt score: it must be -1");
    }
  }
}
