package dev.tally.structured.jsonschema;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.structured.regex.Regex;
import org.apache.lucene.util.automaton.CharacterRunAutomaton;
import org.junit.jupiter.api.Test;

class JsonSchemaTest {
  private static CharacterRunAutomaton compile(String schema) {
    return new CharacterRunAutomaton(Regex.compile(JsonSchema.toRegex(schema)));
  }

  @Test
  void functionCallObjectKeepsOrderRequiredAndTypes() {
    CharacterRunAutomaton a = compile("""
        {"type": "object", "title": "call",
         "properties": {
           "name": {"const": "get_weather"},
           "city": {"type": "string", "minLength": 1, "maxLength": 20},
           "days": {"type": "integer"},
           "unit": {"enum": ["celsius", "fahrenheit"]},
           "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
         "required": ["name", "city"],
         "additionalProperties": false}""");
    assertThat(a.run("{\"name\":\"get_weather\",\"city\":\"Oslo\"}")).isTrue();
    assertThat(a.run("{ \"name\" : \"get_weather\",\n  \"city\": \"Oslo\", \"days\": -3,"
        + " \"unit\": \"celsius\", \"tags\": [\"a\", \"b\\\"\"] }")).isTrue();
    assertThat(a.run("{\"name\":\"get_weather\",\"city\":\"Oslo\",\"unit\":\"fahrenheit\"}"))
        .isTrue();
    // required missing, wrong order, wrong const, too long, an extra property, too many items
    assertThat(a.run("{\"name\":\"get_weather\"}")).isFalse();
    assertThat(a.run("{\"city\":\"Oslo\",\"name\":\"get_weather\"}")).isFalse();
    assertThat(a.run("{\"name\":\"set_weather\",\"city\":\"Oslo\"}")).isFalse();
    assertThat(a.run("{\"name\":\"get_weather\",\"city\":\"\"}")).isFalse();
    assertThat(a.run("{\"name\":\"get_weather\",\"city\":\"Oslo\",\"x\":1}")).isFalse();
    assertThat(a.run("{\"name\":\"get_weather\",\"city\":\"Oslo\",\"tags\":[\"a\",\"b\",\"c\"]}"))
        .isFalse();
    assertThat(a.run("{\"name\":\"get_weather\",\"city\":\"Oslo\",\"days\":01}")).isFalse();
    assertThat(a.run("{\"name\":\"get_weather\",\"city\":\"Oslo\",}")).isFalse();
  }

  @Test
  void optionalMembersTakeCommasOnlyBetweenThoseWritten() {
    CharacterRunAutomaton a = compile("""
        {"properties": {"a": {"type": "null"}, "b": {"type": "boolean"},
                        "c": {"type": "number"}}}""");
    for (String ok : new String[] {"{}", "{\"a\":null}", "{\"b\":true}", "{\"c\":1.5e3}",
        "{\"a\":null,\"c\":-0.25}", "{\"a\":null,\"b\":false,\"c\":0}"}) {
      assertThat(a.run(ok)).as(ok).isTrue();
    }
    for (String bad : new String[] {"{,}", "{\"a\":null,}", "{,\"b\":true}", "{\"b\":true\"c\":1}",
        "{\"c\":1.}", "{\"c\":.5}"}) {
      assertThat(a.run(bad)).as(bad).isFalse();
    }
  }

  @Test
  void refsTypeListsAnyOfAndStringEscapes() {
    CharacterRunAutomaton a = compile("""
        {"$defs": {"id": {"type": ["integer", "null"]}},
         "type": "array", "minItems": 1,
         "items": {"anyOf": [{"$ref": "#/$defs/id"}, {"type": "string", "maxLength": 2}]}}""");
    assertThat(a.run("[1,null,\"ab\",\"\\u00e9\\n\"]")).isTrue();
    assertThat(a.run("[\"\u00e9\"]")).isTrue();
    assertThat(a.run("[]")).isFalse();
    assertThat(a.run("[\"abc\"]")).isFalse();
    assertThat(a.run("[\"\\ud800\"]")).isFalse(); // a lone surrogate is never written
    assertThat(a.run("[\"\n\"]")).isFalse(); // a raw control character is not JSON
  }

  @Test
  void everyUnimplementedKeywordIsAnErrorNamingIt() {
    assertThatThrownBy(() -> JsonSchema.toRegex("{\"type\":\"string\",\"pattern\":\"a\"}"))
        .hasMessage("the keyword 'pattern' at the root is not supported"
            + " (docs/structured-output.md lists what is)");
    assertThatThrownBy(() -> JsonSchema.toRegex(
        "{\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":0}}}"))
        .hasMessage("the keyword 'minimum' at /properties/a is not supported"
            + " (docs/structured-output.md lists what is)");
    assertThatThrownBy(() -> JsonSchema.toRegex("{\"type\":\"object\"}"))
        .hasMessageStartingWith("an object without 'properties' (any keys and values) at the root");
    assertThatThrownBy(() -> JsonSchema.toRegex("{\"oneOf\":[{\"type\":\"null\"}]}"))
        .hasMessageStartingWith("the keyword 'oneOf' at the root");
    assertThatThrownBy(() -> JsonSchema.toRegex(
        "{\"$defs\":{\"n\":{\"properties\":{\"next\":{\"$ref\":\"#/$defs/n\"}}}},"
            + "\"$ref\":\"#/$defs/n\"}"))
        .hasMessageStartingWith("the recursive $ref '#/$defs/n' at /$defs/n/properties/next");
    assertThatThrownBy(() -> JsonSchema.toRegex("{\"additionalProperties\":true}"))
        .hasMessageStartingWith("'additionalProperties' other than false at the root");
    assertThatThrownBy(() -> JsonSchema.toRegex("{\"type\":\"string\""))
        .hasMessageStartingWith("the schema is not JSON: ");
    assertThatThrownBy(() -> JsonSchema.toRegex("{\"$ref\":\"#/$defs/x\"}"))
        .hasMessage("the $ref '#/$defs/x' at the root names no schema");
  }

  @Test
  void hostileSchemasFailQuickly() {
    String deep = "{\"items\":".repeat(60_000) + "{}" + "}".repeat(60_000);
    assertThatThrownBy(() -> JsonSchema.toRegex(deep))
        .hasMessageStartingWith("the schema is not JSON: ");
    String big = "{\"description\":\"" + "x".repeat(4 << 20) + "\"}";
    assertThatThrownBy(() -> JsonSchema.toRegex(big))
        .hasMessage("the schema is 4194322 characters; at most 1048576 are allowed");
    // References that double at each level: bounded by the expression's length, not expanded.
    StringBuilder defs = new StringBuilder("{\"$defs\":{\"d0\":{\"type\":\"null\"}");
    for (int i = 1; i <= 14; i++) {
      defs.append(",\"d").append(i).append("\":{\"type\":\"array\",\"items\":{\"anyOf\":[{\"$ref\":"
          + "\"#/$defs/d").append(i - 1).append("\"},{\"$ref\":\"#/$defs/d").append(i - 1)
          .append("\"}]}}");
    }
    String doubling = defs.append("},\"$ref\":\"#/$defs/d14\"}").toString();
    assertThatThrownBy(() -> JsonSchema.toRegex(doubling))
        .hasMessageContaining("characters; at most 65536 are allowed");
  }
}
