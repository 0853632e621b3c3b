package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import dev.tally.api.v1.Choice;
import dev.tally.api.v1.FinishReason;
import dev.tally.api.v1.RegisterVocabularyRequest;
import dev.tally.api.v1.SampleRequest;
import dev.tally.api.v1.SamplingParams;
import dev.tally.api.v1.Sequence;
import dev.tally.api.v1.SequenceTokens;
import dev.tally.api.v1.SessionRequest;
import dev.tally.api.v1.SessionResponse;
import dev.tally.api.v1.StructuredOutput;
import dev.tally.api.v1.TokenChoice;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * structured_output over a real socket: 1,000 seeded sequences on random logits, every one of
 * which ends (EOS) with an output that matches its regex or equals one of its choices; and the
 * refusals — no vocabulary, an unsupported construct, an appended token the constraint does not
 * allow.
 */
final class StructuredOutputEndToEndTest {
  private static final String VOCABULARY = "structured-ascii";
  private static final int EOS = 0;
  private static final List<byte[]> TOKENS = tokens();
  private static final int WIDTH = TOKENS.size() + 4; // padding past the vocabulary
  private static TestServer server;

  /** EOS, every single byte (as byte-level vocabularies have), and some longer tokens. */
  private static List<byte[]> tokens() {
    List<byte[]> t = new ArrayList<>();
    t.add("<eos>".getBytes(StandardCharsets.UTF_8));
    for (int b = 0; b < 256; b++) {
      t.add(new byte[] {(byte) b}); // id b + 1; 0xC3 alone is half of "é", "ï", "ö", "Ü"
    }
    for (String s : new String[] {"{\"name\": \"", "\", \"age\": ", "red", "gre", "en", "blue",
        "20", "26", "-1", "2-", "Ü", "nïc", "ö", "dé", "ab", "ol", "Ab"}) {
      t.add(s.getBytes(StandardCharsets.UTF_8));
    }
    return t;
  }

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    RegisterVocabularyRequest.Builder r = RegisterVocabularyRequest.newBuilder()
        .setName(VOCABULARY).addSpecialTokenIds(EOS).addEosTokenIds(EOS);
    for (byte[] t : TOKENS) {
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

  private static SamplingParams regex(String pattern, long seed) {
    return SamplingParams.newBuilder().setVocabulary(VOCABULARY).setSeed(seed)
        .setStructuredOutput(StructuredOutput.newBuilder().setRegex(pattern)).build();
  }

  private static SamplingParams choice(List<String> choices, long seed) {
    return SamplingParams.newBuilder().setVocabulary(VOCABULARY).setSeed(seed)
        .setStructuredOutput(StructuredOutput.newBuilder()
            .setChoice(Choice.newBuilder().addAllChoices(choices))).build();
  }

  @Test
  void aThousandSeededSequencesAllEndInAWholeMatch() throws Exception {
    String[] patterns = {"\\d{4}-(0[1-9]|1[0-2])-\\d{2}",
        "\\{\"name\": \"[a-z]{1,8}\", \"age\": [1-9][0-9]?\\}", "[A-Z][a-z]{2,6}( [A-Z][a-z]{2,6})?"};
    List<String> colours = List.of("red", "green", "blue", "Ünïcödé");
    Random logits = new Random(20261207);
    int done = 0;
    try (TestServer.SessionClient session = server.session(server.uds)) {
      long[] step = {1};
      for (int batch = 0; batch < 10; batch++) {
        Map<Long, SamplingParams> sequences = new HashMap<>();
        for (int i = 0; i < 100; i++) {
          long id = batch * 100L + i + 1;
          int k = (int) (id % 4);
          sequences.put(id, k < 3 ? regex(patterns[k], id) : choice(colours, id));
        }
        done += decodeToEos(session, step, sequences, 80, logits, (id, text) -> {
          int k = (int) (id % 4);
          if (k < 3) {
            assertThat(Pattern.matches(patterns[k], text)).as("'%s' ~ %s", text, patterns[k])
                .isTrue();
          } else {
            assertThat(colours).as("sequence %d", id).contains(text);
          }
        });
      }
    }
    assertThat(done).isEqualTo(1000);
  }

  /**
   * Adds {@code sequences} to the session, feeds them random rows until each draws EOS (at most
   * {@code maxSteps}), checks each finished text with {@code onEos}, and removes them.
   *
   * @return how many sequences finished
   */
  private static int decodeToEos(TestServer.SessionClient session, long[] step,
      Map<Long, SamplingParams> sequences, int maxSteps, Random logits,
      java.util.function.BiConsumer<Long, String> onEos) throws Exception {
    Map<Long, ByteArrayOutputStream> outputs = new HashMap<>();
    SessionRequest.Builder add = SessionRequest.newBuilder().setStepId(step[0]++);
    sequences.forEach((id, params) -> {
      outputs.put(id, new ByteArrayOutputStream());
      add.addAdded(Sequence.newBuilder().setId(id).setParams(params));
    });
    SessionResponse added = session.step(add.build());
    assertThat(added.hasError()).as("%s", added.getError()).isFalse();
    int done = 0;
    List<Long> live = new ArrayList<>(outputs.keySet());
    for (int t = 0; t < maxSteps && !live.isEmpty(); t++) {
      SessionRequest.Builder s = SessionRequest.newBuilder().setStepId(step[0]++);
      float[] rows = new float[live.size() * WIDTH];
      for (int i = 0; i < rows.length; i++) {
        rows[i] = (float) (2 * logits.nextGaussian());
      }
      live.forEach(s::addRowSequenceIds);
      SessionResponse r = session.step(s.setLogits(TestServer.f32(live.size(), WIDTH, rows))
          .build());
      assertThat(r.hasError()).as("%s", r.getError()).isFalse();
      List<Long> next = new ArrayList<>();
      for (int i = 0; i < live.size(); i++) {
        TokenChoice c = r.getChoices(i);
        assertThat(c.hasError()).as("%s", c.getError()).isFalse();
        long id = live.get(i);
        if (c.getFinishReason() == FinishReason.FINISH_REASON_EOS_TOKEN) {
          onEos.accept(id, outputs.get(id).toString(StandardCharsets.UTF_8));
          done++;
        } else {
          outputs.get(id).writeBytes(TOKENS.get(c.getTokenId()));
          next.add(id);
        }
      }
      live = next;
    }
    assertThat(live).as("sequences that never reached EOS").isEmpty();
    SessionRequest.Builder remove = SessionRequest.newBuilder().setStepId(step[0]++);
    outputs.keySet().forEach(remove::addRemoved);
    session.step(remove.build());
    return done;
  }

  private static final String SCHEMA = """
      {"type": "object",
       "properties": {"name": {"enum": ["red", "green", "blue"]},
                      "age": {"type": "integer"},
                      "ok": {"type": "boolean"},
                      "tags": {"type": "array", "items": {"type": "string", "maxLength": 3},
                               "maxItems": 2}},
       "required": ["name", "age"], "additionalProperties": false}""";

  @Test
  void seededJsonSchemaSequencesAllEndInValidJson() throws Exception {
    SamplingParams params = SamplingParams.newBuilder().setVocabulary(VOCABULARY)
        .setStructuredOutput(StructuredOutput.newBuilder().setJsonSchema(SCHEMA)).build();
    Random logits = new Random(7);
    int done = 0;
    try (TestServer.SessionClient session = server.session(server.uds)) {
      long[] step = {1};
      for (int batch = 0; batch < 2; batch++) {
        Map<Long, SamplingParams> sequences = new HashMap<>();
        for (int i = 0; i < 100; i++) {
          long id = batch * 100L + i + 1;
          sequences.put(id, params.toBuilder().setSeed(id).build());
        }
        done += decodeToEos(session, step, sequences, 600, logits,
            (id, text) -> assertValid(text));
      }
    }
    assertThat(done).isEqualTo(200);
  }

  /** The schema's rules, checked on the parsed value (a strict JSON parser: one value, no junk). */
  private static void assertValid(String text) {
    com.google.gson.stream.JsonReader reader =
        new com.google.gson.stream.JsonReader(new java.io.StringReader(text));
    reader.setStrictness(com.google.gson.Strictness.STRICT);
    com.google.gson.JsonObject o = com.google.gson.JsonParser.parseReader(reader)
        .getAsJsonObject();
    assertThat(o.keySet()).as(text).containsAnyOf("name").isSubsetOf("name", "age", "ok", "tags");
    assertThat(List.of("red", "green", "blue")).as(text).contains(o.get("name").getAsString());
    assertThat(o.get("age").getAsString()).as(text).matches("-?(0|[1-9][0-9]*)");
    if (o.has("ok")) {
      assertThat(o.get("ok").getAsJsonPrimitive().isBoolean()).as(text).isTrue();
    }
    if (o.has("tags")) {
      assertThat(o.getAsJsonArray("tags").size()).as(text).isLessThanOrEqualTo(2);
      o.getAsJsonArray("tags").forEach(tag ->
          assertThat(tag.getAsString().codePointCount(0, tag.getAsString().length())).as(text)
              .as("%s %s", text, java.util.Arrays.toString(text.getBytes(StandardCharsets.UTF_8)))
              .isLessThanOrEqualTo(3));
    }
  }

  @Test
  void anUnsupportedSchemaKeywordIsRefusedNamingIt() {
    SamplingParams p = SamplingParams.newBuilder().setVocabulary(VOCABULARY)
        .setStructuredOutput(StructuredOutput.newBuilder()
            .setJsonSchema("{\"type\": \"string\", \"format\": \"email\"}")).build();
    StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
        () -> server.blocking(server.tcp).sample(SampleRequest.newBuilder().addParams(p)
            .setLogits(TestServer.f32(1, WIDTH, new float[WIDTH])).build()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription()).isEqualTo("json_schema: the keyword 'format' at"
        + " the root is not supported (docs/structured-output.md lists what is)");
    BadInputMatrixTest.assertReason(StatusProto.fromThrowable(e),
        new BadInputMatrixTest.Expect(Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS",
            "params[0].structured_output.json_schema"));
  }

  @Test
  void refusalsNameTheFieldAndTheConstruct() {
    StatusRuntimeException noVocabulary = catchThrowableOfType(StatusRuntimeException.class,
        () -> server.blocking(server.tcp).sample(SampleRequest.newBuilder()
            .addParams(regex("a+", 1).toBuilder().clearVocabulary())
            .setLogits(TestServer.f32(1, WIDTH, new float[WIDTH])).build()));
    assertThat(noVocabulary.getStatus().getCode()).as("%s", noVocabulary.getStatus())
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    BadInputMatrixTest.assertReason(StatusProto.fromThrowable(noVocabulary),
        new BadInputMatrixTest.Expect(Status.Code.INVALID_ARGUMENT, "INVALID_PARAMS",
            "params[0].structured_output.regex"));

    StatusRuntimeException lookahead = catchThrowableOfType(StatusRuntimeException.class,
        () -> server.blocking(server.tcp).sample(SampleRequest.newBuilder()
            .addParams(regex("a(?=b)", 1))
            .setLogits(TestServer.f32(1, WIDTH, new float[WIDTH])).build()));
    assertThat(lookahead.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(lookahead.getStatus().getDescription()).isEqualTo("regex: lookaround assertions"
        + " ((?=, (?!, (?<=, (?<!) are not supported (at character 1 of the pattern)");
  }

  @Test
  void anAppendedTokenTheConstraintDoesNotAllowFailsItsRowNamingIt() throws Exception {
    try (TestServer.SessionClient session = server.session(server.tcp)) {
      session.step(SessionRequest.newBuilder().setStepId(1)
          .addAdded(Sequence.newBuilder().setId(1).setParams(choice(List.of("red", "blue"), 1)))
          .addAdded(Sequence.newBuilder().setId(2).setParams(choice(List.of("red", "blue"), 2)))
          .build());
      int x = 'x' + 1;
      SessionResponse r = session.step(SessionRequest.newBuilder().setStepId(2)
          .addAppended(SequenceTokens.newBuilder().setSequenceId(2).addTokenIds(x))
          .addRowSequenceIds(1).addRowSequenceIds(2)
          .setLogits(TestServer.f32(2, WIDTH, new float[2 * WIDTH])).build());
      assertThat(r.getChoices(0).hasError()).isFalse();
      TokenChoice failed = r.getChoices(1);
      assertThat(failed.getTokenId()).isEqualTo(-1);
      assertThat(failed.getError().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      assertThat(failed.getError().getMessage())
          .contains("regex: token " + x + " 'x' does not fit the pattern at this point");
    }
  }
}
