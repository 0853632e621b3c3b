package dev.tally.structured.jsonschema;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import dev.tally.structured.regex.Regex;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.util.automaton.CharacterRunAutomaton;
import org.junit.jupiter.api.Test;

/**
 * The JSON-Schema-Test-Suite's draft 2020-12 instances (test resources, MIT; README there) for
 * the keywords the front end touches. An instance, written compactly, that the compiled schema
 * accepts must be valid: no false positive. A schema the front end refuses, or a valid instance
 * written in another order than Tally writes, is a miss, counted but allowed; the count is a
 * ratchet against losing coverage.
 */
class JsonSchemaTestSuiteTest {
  private static final Gson COMPACT = new GsonBuilder().disableHtmlEscaping().create();
  private static final String[] FILES = {"type", "enum", "const", "required", "properties",
      "items", "minItems", "maxItems", "minLength", "maxLength", "anyOf", "additionalProperties",
      "ref", "defs", "boolean_schema"};

  @Test
  void noFalsePositives() throws IOException {
    List<String> falsePositives = new ArrayList<>();
    int correct = 0;
    int instances = 0;
    int compiled = 0;
    int groups = 0;
    for (String file : FILES) {
      for (JsonElement group : read(file).getAsJsonArray()) {
        groups++;
        String schema = COMPACT.toJson(group.getAsJsonObject().get("schema"));
        CharacterRunAutomaton a = null;
        try {
          a = new CharacterRunAutomaton(Regex.compile(JsonSchema.toRegex(schema)));
          compiled++;
        } catch (IllegalArgumentException refused) {
          // a refusal is never wrong
        }
        for (JsonElement test : group.getAsJsonObject().getAsJsonArray("tests")) {
          instances++;
          boolean valid = test.getAsJsonObject().get("valid").getAsBoolean();
          String text = COMPACT.toJson(test.getAsJsonObject().get("data"));
          boolean accepted = a != null && a.run(text);
          if (accepted && !valid) {
            falsePositives.add(file + ": " + schema + " accepts " + text);
          }
          if (accepted == valid && a != null) {
            correct++;
          }
        }
      }
    }
    assertThat(falsePositives).isEmpty();
    assertThat(groups).isEqualTo(GROUPS);
    assertThat(compiled).isGreaterThanOrEqualTo(COMPILED);
    assertThat(correct).as("of %d instances", instances).isGreaterThanOrEqualTo(CORRECT);
  }

  private static final int GROUPS = 128;
  private static final int COMPILED = 56;
  private static final int CORRECT = 186;

  private static JsonElement read(String name) throws IOException {
    try (InputStream in = JsonSchemaTestSuiteTest.class.getResourceAsStream(
        "/json-schema-test-suite/" + name + ".json")) {
      return JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }
}
