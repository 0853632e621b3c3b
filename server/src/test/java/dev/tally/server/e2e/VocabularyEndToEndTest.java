package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import dev.tally.api.v1.FinishReason;
import dev.tally.api.v1.GetServerInfoRequest;
import dev.tally.api.v1.ListVocabulariesRequest;
import dev.tally.api.v1.Logits;
import dev.tally.api.v1.RegisterVocabularyRequest;
import dev.tally.api.v1.RegisterVocabularyResponse;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SampleResponse;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SequenceTokens;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.TokenChoice;
import dev.tally.api.v1.TokenHistory;
import dev.tally.api.v1.UnregisterVocabularyRequest;
import dev.tally.api.v1.Vocabulary;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Vocabularies and stop strings over a real socket: registration (idempotent, refused when a name
 * holds other tokens), listing, unregistering, and stop strings across token boundaries in
 * {@code Sample} and {@code Session}, appended tokens included.
 */
final class VocabularyEndToEndTest {
  // 0 "Hel", 1 "lo", 2 " wor", 3 "ld", 4 "!", 5 "<eos>" (special, EOS), 6 "\n", 7 "é";
  // the logits are 10 wide: 8 and 9 are padding.
  private static final String[] TOKENS = {"Hel", "lo", " wor", "ld", "!", "<eos>", "\n", "é"};
  private static final int WIDTH = 10;
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  private static RegisterVocabularyRequest toy(String name, String... tokens) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    RegisterVocabularyRequest.Builder b = RegisterVocabularyRequest.newBuilder().setName(name)
        .addSpecialTokenIds(5).addEosTokenIds(5);
    for (String t : tokens) {
      byte[] utf8 = t.getBytes(StandardCharsets.UTF_8);
      bytes.writeBytes(utf8);
      b.addTokenLengths(utf8.length);
    }
    return b.setTokenBytes(ByteString.copyFrom(bytes.toByteArray())).build();
  }

  private static RegisterVocabularyResponse register(RegisterVocabularyRequest r) {
    return server.blocking(server.uds).registerVocabulary(r);
  }

  /** One row whose best token is {@code best}. */
  private static float[] row(int best) {
    float[] row = new float[WIDTH];
    row[best] = 4f;
    return row;
  }

  private static Logits rows(int... best) {
    float[] all = new float[best.length * WIDTH];
    for (int i = 0; i < best.length; i++) {
      System.arraycopy(row(best[i]), 0, all, i * WIDTH, WIDTH);
    }
    return TestServer.f32(best.length, WIDTH, all);
  }

  private static SamplingParams stops(String vocabulary, String... stops) {
    return SamplingParams.newBuilder().setTemperature(0f).setVocabulary(vocabulary)
        .addAllStopStrings(java.util.List.of(stops)).build();
  }

  @Test
  void registrationIsIdempotentListedAndReportedInServerInfo() {
    RegisterVocabularyResponse first = register(toy("toy-a", TOKENS));
    assertThat(first.getCreated()).isTrue();
    Vocabulary v = first.getVocabulary();
    assertThat(v.getName()).isEqualTo("toy-a");
    assertThat(v.getSize()).isEqualTo(8);
    assertThat(v.getSpecialTokenIdsList()).containsExactly(5);
    assertThat(v.getEosTokenIdsList()).containsExactly(5);
    assertThat(v.getTokenBytes()).isEqualTo(3 + 2 + 4 + 2 + 1 + 5 + 1 + 2);
    assertThat(v.getFingerprint()).matches("[0-9a-f]{64}");

    RegisterVocabularyResponse again = register(toy("toy-a", TOKENS));
    assertThat(again.getCreated()).isFalse();
    assertThat(again.getVocabulary()).isEqualTo(v);
    assertThat(server.blocking(server.tcp).listVocabularies(
        ListVocabulariesRequest.getDefaultInstance()).getVocabulariesList()).contains(v);
    assertThat(server.blocking(server.tcp).getServerInfo(GetServerInfoRequest.getDefaultInstance())
        .getLimits().getMaxVocabularies()).isEqualTo(64);
  }

  @Test
  void otherTokensUnderATakenNameAndABadRegistrationAreRefused() {
    register(toy("toy-b", TOKENS));
    StatusRuntimeException taken = catchThrowableOfType(StatusRuntimeException.class,
        () -> register(toy("toy-b", "x", "y", "z", "w", "v", "u")));
    assertThat(taken.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
    BadInputMatrixTest.assertReason(StatusProto.fromThrowable(taken),
        BadInputMatrixTest.VOCABULARY_NAME_TAKEN);

    RegisterVocabularyRequest short1 = toy("toy-c", TOKENS).toBuilder().addTokenLengths(9).build();
    StatusRuntimeException bad = catchThrowableOfType(StatusRuntimeException.class,
        () -> register(short1));
    assertThat(bad.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(bad.getStatus().getDescription()).isEqualTo(
        "the token lengths add up to more than the 20 bytes of token_bytes (at token 8)");
    BadInputMatrixTest.assertReason(StatusProto.fromThrowable(bad),
        new BadInputMatrixTest.Expect(Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS",
            "token_lengths"));
    // Nothing of either was kept: toy-b is still the first registration, toy-c does not exist.
    assertThat(register(toy("toy-b", TOKENS)).getCreated()).isFalse();
    assertThat(server.blocking(server.tcp).listVocabularies(
        ListVocabulariesRequest.getDefaultInstance()).getVocabulariesList())
        .extracting(Vocabulary::getName).doesNotContain("toy-c");
  }

  @Test
  void sampleEndsOnAStopStringAcrossTokensAndSaysWhichAndWhere() {
    register(toy("toy-d", TOKENS));
    SampleResponse r = server.blocking(server.tcp).sample(SampleRequest.newBuilder()
        .addParams(stops("toy-d", "xyz", "o w"))
        .addHistories(TokenHistory.newBuilder().addPromptTokenIds(6).addOutputTokenIds(0)
            .addOutputTokenIds(1))
        .addHistories(TokenHistory.newBuilder().addOutputTokenIds(0))
        .addHistories(TokenHistory.newBuilder().addOutputTokenIds(0))
        .setLogits(rows(2, 2, 5)).build());
    TokenChoice hit = r.getChoices(0);
    assertThat(hit.getTokenId()).isEqualTo(2);
    assertThat(hit.getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_STOP_STRING);
    assertThat(hit.getStopString()).isEqualTo("o w");
    assertThat(hit.getStopStringTrailingBytes()).isEqualTo(2); // "or" follows the match
    // "Hel" + " wor": no "o w".
    assertThat(r.getChoices(1).getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_NONE);
    assertThat(r.getChoices(1).getStopString()).isEmpty();
    // The vocabulary's EOS id ends a request that lists none.
    assertThat(r.getChoices(2).getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_EOS_TOKEN);
  }

  @Test
  void aSessionSequenceEndsOnAStopStringSpanningDrawnAndAppendedTokens() throws Exception {
    register(toy("toy-e", TOKENS));
    try (TestServer.SessionClient session = server.session(server.uds)) {
      SessionResponse added = session.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(Sequence.newBuilder().setId(1).setParams(stops("toy-e", "world!")))
          .addAdded(Sequence.newBuilder().setId(2).setParams(stops("toy-e", "lo wo")))
          .build());
      assertThat(added.hasError()).isFalse();
      SessionResponse s2 = session.step(SessionRequest.newBuilder().setStepId(2)
          .addAppended(SequenceTokens.newBuilder().setSequenceId(2).addTokenIds(0).addTokenIds(1))
          .addRowSequenceIds(1).addRowSequenceIds(2).setLogits(rows(2, 2)).build());
      assertThat(s2.getChoices(0).getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_NONE);
      // Sequence 2: appended "Hel" "lo", then " wor" drawn: "lo wo" ends before its last byte.
      assertThat(s2.getChoices(1).getFinishReason())
          .isEqualTo(FinishReason.FINISH_REASON_STOP_STRING);
      assertThat(s2.getChoices(1).getStopString()).isEqualTo("lo wo");
      assertThat(s2.getChoices(1).getStopStringTrailingBytes()).isEqualTo(1);
      SessionResponse s3 = session.step(SessionRequest.newBuilder().setStepId(3)
          .addRowSequenceIds(1).setLogits(rows(3)).build());
      assertThat(s3.getChoices(0).getFinishReason()).isEqualTo(FinishReason.FINISH_REASON_NONE);
      SessionResponse s4 = session.step(SessionRequest.newBuilder().setStepId(4)
          .addRowSequenceIds(1).setLogits(rows(4)).build());
      assertThat(s4.getChoices(0).getTokenId()).isEqualTo(4);
      assertThat(s4.getChoices(0).getFinishReason())
          .isEqualTo(FinishReason.FINISH_REASON_STOP_STRING);
      assertThat(s4.getChoices(0).getStopString()).isEqualTo("world!");
      assertThat(s4.getChoices(0).getStopStringTrailingBytes()).isZero();
    }
  }

  @Test
  void anUnregisteredVocabularyIsUnknownToNewRequestsButKeptBySequencesUsingIt()
      throws Exception {
    register(toy("toy-f", TOKENS));
    try (TestServer.SessionClient session = server.session(server.tcp)) {
      session.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(Sequence.newBuilder().setId(1).setParams(stops("toy-f", "Hello"))).build());
      server.blocking(server.tcp).unregisterVocabulary(
          UnregisterVocabularyRequest.newBuilder().setName("toy-f").build());
      StatusRuntimeException unknown = catchThrowableOfType(StatusRuntimeException.class,
          () -> server.blocking(server.tcp).sample(SampleRequest.newBuilder()
              .addParams(stops("toy-f", "x")).setLogits(rows(0)).build()));
      assertThat(unknown.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
      BadInputMatrixTest.assertReason(StatusProto.fromThrowable(unknown),
          new BadInputMatrixTest.Expect(Status.Code.NOT_FOUND, "UNKNOWN_VOCABULARY",
              "params[0].vocabulary"));
      StatusRuntimeException again = catchThrowableOfType(StatusRuntimeException.class,
          () -> server.blocking(server.tcp).unregisterVocabulary(
              UnregisterVocabularyRequest.newBuilder().setName("toy-f").build()));
      assertThat(again.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);

      session.step(SessionRequest.newBuilder().setStepId(2).addRowSequenceIds(1)
          .setLogits(rows(0)).build());
      SessionResponse done = session.step(SessionRequest.newBuilder().setStepId(3)
          .addRowSequenceIds(1).setLogits(rows(1)).build());
      assertThat(done.getChoices(0).getFinishReason())
          .isEqualTo(FinishReason.FINISH_REASON_STOP_STRING);
    }
  }

  @Test
  void aQuarterMillionTokenVocabularyRegistersOverTheSocket() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    RegisterVocabularyRequest.Builder b = RegisterVocabularyRequest.newBuilder().setName("big");
    for (int id = 0; id < 256_000; id++) {
      byte[] t = ("t" + id).getBytes(StandardCharsets.UTF_8);
      bytes.writeBytes(t);
      b.addTokenLengths(t.length);
    }
    b.addEosTokenIds(255_999).addSpecialTokenIds(255_999);
    Vocabulary v = register(b.setTokenBytes(ByteString.copyFrom(bytes.toByteArray())).build())
        .getVocabulary();
    assertThat(v.getSize()).isEqualTo(256_000);
    assertThat(v.getTokenBytes()).isEqualTo(bytes.size());
    assertThat(v.getMemoryBytes()).isLessThan(64L << 20);
  }
}
