package dev.tally.structured.jsonschema;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import dev.tally.structured.regex.Regex;
import java.io.StringReader;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * JSON Schema (draft 2020-12) to the regular expression of the JSON texts Tally may write for it.
 * The language is a subset of the schema's instances, never a superset: properties come in the
 * schema's order, an object has only its declared properties, strings use only the escapes JSON
 * requires. Whitespace between tokens is free ({@code [ \t\n\r]*}). Every keyword this compiler
 * does not implement is an error naming it and where it is, never ignored; annotations
 * ({@code title}, {@code description}, …) are ignored, as the specification says.
 *
 * <p>Supported: {@code type} (one or a list), {@code enum}, {@code const}; strings with
 * {@code minLength}/{@code maxLength}; {@code integer}, {@code number}, {@code boolean},
 * {@code null}; objects with {@code properties}, {@code required} and {@code additionalProperties:
 * false} (or absent); arrays with {@code items}, {@code minItems}, {@code maxItems};
 * {@code anyOf}; local, non-recursive {@code $ref} into {@code $defs} or {@code definitions}.
 */
public final class JsonSchema {
  /** Schema text, in characters: a 4 MB schema fails before it is parsed. */
  public static final int MAX_SCHEMA_LENGTH = 1 << 20;
  /** Schemas inside schemas, {@code $ref} expansions included. */
  static final int MAX_DEPTH = 64;

  private static final String WS = "[ \\t\\n\\r]*";
  private static final String CHAR = "(?:[^\"\\\\\\x00-\\x1f\\ud800-\\udfff]|\\\\[\"\\\\/bfnrt]"
      + "|\\\\u(?:[0-9a-cA-CeEfF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))";
  // Surrogates are not characters: UTF-8 cannot carry them.
  private static final String INTEGER = "-?(?:0|[1-9][0-9]*)";
  private static final String NUMBER = INTEGER + "(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?";
  private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default",
      "examples", "$comment", "$schema", "$id", "deprecated", "readOnly", "writeOnly", "$defs",
      "definitions");
  private static final Set<String> KEYWORDS = Set.of("type", "enum", "const", "minLength",
      "maxLength", "properties", "required", "additionalProperties", "items", "minItems",
      "maxItems", "anyOf", "$ref");
  private static final List<String> TYPES = List.of("object", "array", "string", "integer",
      "number", "boolean", "null");

  private final JsonObject root;
  private final Deque<String> refs = new ArrayDeque<>();

  private JsonSchema(JsonObject root) {
    this.root = root;
  }

  /**
   * The regular expression ({@link Regex} syntax) of the texts Tally writes for {@code schema}.
   *
   * @throws IllegalArgumentException for a schema that is not JSON, or that uses a keyword or a
   *     form this compiler does not implement (naming it and its JSON pointer)
   */
  public static String toRegex(String schema) {
    if (schema.length() > MAX_SCHEMA_LENGTH) {
      throw new IllegalArgumentException("the schema is " + schema.length()
          + " characters; at most " + MAX_SCHEMA_LENGTH + " are allowed");
    }
    JsonElement parsed;
    try {
      JsonReader reader = new JsonReader(new StringReader(schema));
      reader.setStrictness(Strictness.STRICT);
      reader.setNestingLimit(MAX_DEPTH * 4);
      parsed = JsonParser.parseReader(reader);
    } catch (JsonParseException e) {
      throw new IllegalArgumentException("the schema is not JSON: " + e.getMessage());
    }
    if (!parsed.isJsonObject()) {
      throw new IllegalArgumentException("the schema must be a JSON object");
    }
    return WS + new JsonSchema(parsed.getAsJsonObject()).schema(parsed, "", 0) + WS;
  }

  /**
   * A schema's expression, checked for length as it is built: references that repeat a schema
   * at every level fail here, before their expansion grows.
   */
  private String schema(JsonElement s, String at, int depth) {
    String regex = node(s, at, depth);
    if (regex.length() > Regex.MAX_LENGTH) {
      throw new IllegalArgumentException("the schema's expression at " + pointer(at) + " is "
          + regex.length() + " characters; at most " + Regex.MAX_LENGTH + " are allowed");
    }
    return regex;
  }

  private String node(JsonElement s, String at, int depth) {
    if (depth > MAX_DEPTH) {
      throw unsupported(at, "schemas nested more than " + MAX_DEPTH + " deep");
    }
    if (s.isJsonPrimitive() && s.getAsJsonPrimitive().isBoolean()) {
      throw unsupported(at, s.getAsBoolean() ? "the schema true (any JSON value)"
          : "the schema false (no value)");
    }
    if (!s.isJsonObject()) {
      throw new IllegalArgumentException("the schema at " + pointer(at)
          + " must be an object or a boolean");
    }
    JsonObject o = s.getAsJsonObject();
    for (String key : o.keySet()) {
      if (!KEYWORDS.contains(key) && !ANNOTATIONS.contains(key)) {
        throw unsupported(at, "the keyword '" + key + "'");
      }
    }
    if (o.has("$ref")) {
      if (o.keySet().stream().filter(KEYWORDS::contains).count() > 1) {
        throw unsupported(at, "'$ref' beside other keywords");
      }
      return ref(string(o, "$ref", at), at, depth);
    }
    if (o.has("anyOf")) {
      if (o.keySet().stream().filter(KEYWORDS::contains).count() > 1) {
        throw unsupported(at, "'anyOf' beside other keywords");
      }
      JsonArray options = array(o, "anyOf", at);
      if (options.isEmpty()) {
        throw new IllegalArgumentException("'anyOf' at " + pointer(at) + " is empty");
      }
      List<String> parts = new ArrayList<>();
      for (int i = 0; i < options.size(); i++) {
        parts.add(schema(options.get(i), at + "/anyOf/" + i, depth + 1));
      }
      return "(?:" + String.join("|", parts) + ")";
    }
    if (o.has("const")) {
      if (o.has("enum")) {
        throw unsupported(at, "'const' beside 'enum'");
      }
      return typed(o, List.of(o.get("const")), at);
    }
    if (o.has("enum")) {
      JsonArray values = array(o, "enum", at);
      List<JsonElement> list = new ArrayList<>();
      values.forEach(list::add);
      return typed(o, list, at);
    }
    List<String> types = types(o, at);
    List<String> parts = new ArrayList<>();
    for (String type : types) {
      parts.add(switch (type) {
        case "object" -> object(o, at, depth);
        case "array" -> array(o, at, depth);
        case "string" -> string(o, at);
        case "integer" -> INTEGER;
        case "number" -> NUMBER;
        case "boolean" -> "(?:true|false)";
        default -> "null";
      });
    }
    return parts.size() == 1 ? parts.get(0) : "(?:" + String.join("|", parts) + ")";
  }

  /** The types a schema without const or enum allows; no type at all would be any value. */
  private static List<String> types(JsonObject o, String at) {
    JsonElement type = o.get("type");
    if (type == null) {
      if (o.has("properties") || o.has("required") || o.has("additionalProperties")) {
        return List.of("object");
      }
      if (o.has("items") || o.has("minItems") || o.has("maxItems")) {
        return List.of("array");
      }
      if (o.has("minLength") || o.has("maxLength")) {
        throw unsupported(at, "'minLength'/'maxLength' without \"type\": \"string\" (any other"
            + " JSON value would match too)");
      }
      throw unsupported(at, "a schema without 'type' (any JSON value)");
    }
    List<String> types = new ArrayList<>();
    for (JsonElement t : type.isJsonArray() ? type.getAsJsonArray() : single(type)) {
      if (!t.isJsonPrimitive() || !TYPES.contains(t.getAsString())) {
        throw new IllegalArgumentException("'type' at " + pointer(at) + " must name JSON"
            + " Schema types (" + String.join(", ", TYPES) + "), not " + t);
      }
      if (!types.contains(t.getAsString())) {
        types.add(t.getAsString());
      }
    }
    if (types.contains("integer") && types.contains("number")) {
      types.remove("integer");
    }
    return types;
  }

  private static JsonArray single(JsonElement e) {
    JsonArray a = new JsonArray();
    a.add(e);
    return a;
  }

  /** const or enum: the values, each written out, that also have the schema's type. */
  private static String typed(JsonObject o, List<JsonElement> values, String at) {
    for (String key : o.keySet()) {
      if (KEYWORDS.contains(key) && !key.equals("type") && !key.equals("enum")
          && !key.equals("const")) {
        throw unsupported(at, "'" + key + "' beside 'enum' or 'const'");
      }
    }
    List<String> types = o.has("type") ? types(o, at) : TYPES;
    List<String> parts = new ArrayList<>();
    for (JsonElement v : values) {
      if (types.contains(typeOf(v)) || typeOf(v).equals("integer") && types.contains("number")) {
        parts.add(literal(v));
      }
    }
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("at " + pointer(at) + " no value of 'enum'/'const' has"
          + " the schema's 'type'");
    }
    return "(?:" + String.join("|", parts) + ")";
  }

  private static String typeOf(JsonElement v) {
    if (v.isJsonNull()) {
      return "null";
    }
    if (v.isJsonObject()) {
      return "object";
    }
    if (v.isJsonArray()) {
      return "array";
    }
    JsonPrimitive p = v.getAsJsonPrimitive();
    if (p.isBoolean()) {
      return "boolean";
    }
    if (p.isString()) {
      return "string";
    }
    String n = p.getAsString();
    return n.matches("-?[0-9]+") ? "integer" : "number";
  }

  /** One JSON value, written compactly but for free whitespace between tokens. */
  private static String literal(JsonElement v) {
    if (v.isJsonObject()) {
      List<String> members = new ArrayList<>();
      for (Map.Entry<String, JsonElement> e : v.getAsJsonObject().entrySet()) {
        members.add(quoted(e.getKey()) + WS + ":" + WS + literal(e.getValue()));
      }
      return "\\{" + WS + String.join(WS + "," + WS, members) + WS + "\\}";
    }
    if (v.isJsonArray()) {
      List<String> items = new ArrayList<>();
      v.getAsJsonArray().forEach(e -> items.add(literal(e)));
      return "\\[" + WS + String.join(WS + "," + WS, items) + WS + "\\]";
    }
    if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()) {
      return quoted(v.getAsString());
    }
    return escape(v.toString()); // null, true, false, and numbers as the schema writes them
  }

  /** A string's JSON text, with only the escapes JSON requires, as a regex. */
  private static String quoted(String s) {
    StringBuilder json = new StringBuilder("\"");
    s.codePoints().forEach(c -> {
      switch (c) {
        case '"' -> json.append("\\\"");
        case '\\' -> json.append("\\\\");
        case '\b' -> json.append("\\b");
        case '\f' -> json.append("\\f");
        case '\n' -> json.append("\\n");
        case '\r' -> json.append("\\r");
        case '\t' -> json.append("\\t");
        default -> {
          if (c < 0x20) {
            json.append(String.format("\\u%04x", c));
          } else {
            json.appendCodePoint(c);
          }
        }
      }
    });
    return escape(json.append('"').toString());
  }

  /** {@code text} as a regex that matches exactly it. */
  private static String escape(String text) {
    StringBuilder p = new StringBuilder();
    text.codePoints().forEach(c -> {
      if ("\\^$.|?*+()[]{}/".indexOf(c) >= 0) {
        p.append('\\');
      }
      p.appendCodePoint(c);
    });
    return p.toString();
  }

  private String object(JsonObject o, String at, int depth) {
    JsonObject properties = o.has("properties") ? object(o, "properties", at) : new JsonObject();
    List<String> required = new ArrayList<>();
    if (o.has("required")) {
      for (JsonElement r : array(o, "required", at)) {
        if (!r.isJsonPrimitive() || !r.getAsJsonPrimitive().isString()) {
          throw new IllegalArgumentException("'required' at " + pointer(at)
              + " must list strings");
        }
        if (!properties.has(r.getAsString())) {
          throw unsupported(at, "the required property '" + r.getAsString()
              + "' without a schema in 'properties' (its value could be anything)");
        }
        required.add(r.getAsString());
      }
    }
    JsonElement additional = o.get("additionalProperties");
    if (additional != null && !(additional.isJsonPrimitive()
        && additional.getAsJsonPrimitive().isBoolean() && !additional.getAsBoolean())) {
      throw unsupported(at, "'additionalProperties' other than false");
    }
    if (properties.isEmpty()) {
      if (additional == null) {
        throw unsupported(at, "an object without 'properties' (any keys and values)");
      }
      return "\\{" + WS + "\\}";
    }
    List<String> members = new ArrayList<>();
    List<Boolean> optional = new ArrayList<>();
    for (Map.Entry<String, JsonElement> p : properties.entrySet()) {
      String value = schema(p.getValue(), at + "/properties/" + escapePointer(p.getKey()),
          depth + 1);
      members.add(quoted(p.getKey()) + WS + ":" + WS + value);
      optional.add(!required.contains(p.getKey()));
    }
    return "\\{" + WS + members(members, optional) + WS + "\\}";
  }

  /**
   * Members in order, the optional ones perhaps left out, with commas only between those
   * written: one alternative per first member written, so the expression grows with the square
   * of the optional members, not exponentially.
   */
  private static String members(List<String> members, List<Boolean> optional) {
    List<String> firsts = new ArrayList<>();
    boolean allOptional = true;
    for (int f = 0; f < members.size(); f++) {
      StringBuilder alt = new StringBuilder(members.get(f));
      for (int i = f + 1; i < members.size(); i++) {
        String next = "(?:" + WS + "," + WS + members.get(i) + ")";
        alt.append(optional.get(i) ? next + "?" : next);
      }
      firsts.add(alt.toString());
      if (!optional.get(f)) {
        allOptional = false;
        break; // a required member is written: no later member can be the first
      }
    }
    String list = "(?:" + String.join("|", firsts) + ")";
    return allOptional ? list + "?" : list;
  }

  private String array(JsonObject o, String at, int depth) {
    int min = count(o, "minItems", at, 0);
    int max = o.has("maxItems") ? count(o, "maxItems", at, 0) : -1;
    if (max >= 0 && max < min) {
      throw new IllegalArgumentException("at " + pointer(at) + " maxItems < minItems");
    }
    if (max == 0) {
      return "\\[" + WS + "\\]";
    }
    if (!o.has("items")) {
      throw unsupported(at, "an array without 'items' (any values)");
    }
    if (min > Regex.MAX_REPEAT || max > Regex.MAX_REPEAT) {
      throw unsupported(at, "minItems or maxItems above " + Regex.MAX_REPEAT);
    }
    String item = schema(o.get("items"), at + "/items", depth + 1);
    String more = "(?:" + WS + "," + WS + item + ")";
    String rest = max < 0 ? more + "{" + Math.max(0, min - 1) + ",}"
        : more + "{" + Math.max(0, min - 1) + "," + (max - 1) + "}";
    String list = item + rest;
    return "\\[" + WS + (min == 0 ? "(?:" + list + ")?" : list) + WS + "\\]";
  }

  private String string(JsonObject o, String at) {
    int min = count(o, "minLength", at, 0);
    int max = o.has("maxLength") ? count(o, "maxLength", at, 0) : -1;
    if (max >= 0 && max < min) {
      throw new IllegalArgumentException("at " + pointer(at) + " maxLength < minLength");
    }
    if (min > Regex.MAX_REPEAT || max > Regex.MAX_REPEAT) {
      throw unsupported(at, "minLength or maxLength above " + Regex.MAX_REPEAT);
    }
    String repeat = max < 0 ? (min == 0 ? "*" : "{" + min + ",}") : "{" + min + "," + max + "}";
    return "\"" + CHAR + repeat + "\"";
  }

  private String ref(String ref, String at, int depth) {
    if (!ref.startsWith("#/$defs/") && !ref.startsWith("#/definitions/")) {
      throw unsupported(at, "the $ref '" + ref + "' (only #/$defs/… and #/definitions/…)");
    }
    if (refs.contains(ref)) {
      throw unsupported(at, "the recursive $ref '" + ref + "'");
    }
    JsonElement target = root;
    for (String part : ref.substring(2).split("/", -1)) {
      String name = part.replace("~1", "/").replace("~0", "~");
      if (!target.isJsonObject() || !target.getAsJsonObject().has(name)) {
        throw new IllegalArgumentException("the $ref '" + ref + "' at " + pointer(at)
            + " names no schema");
      }
      target = target.getAsJsonObject().get(name);
    }
    refs.push(ref);
    try {
      return schema(target, ref.substring(1), depth + 1);
    } finally {
      refs.pop();
    }
  }

  private static int count(JsonObject o, String key, String at, int dflt) {
    JsonElement e = o.get(key);
    if (e == null) {
      return dflt;
    }
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()
        || !e.getAsString().matches("[0-9]+") || e.getAsString().length() > 9) {
      throw new IllegalArgumentException("'" + key + "' at " + pointer(at)
          + " must be a non-negative integer below 10^9, not " + e);
    }
    return Integer.parseInt(e.getAsString());
  }

  private static String string(JsonObject o, String key, String at) {
    JsonElement e = o.get(key);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
      throw new IllegalArgumentException("'" + key + "' at " + pointer(at) + " must be a string");
    }
    return e.getAsString();
  }

  private static JsonArray array(JsonObject o, String key, String at) {
    JsonElement e = o.get(key);
    if (!e.isJsonArray()) {
      throw new IllegalArgumentException("'" + key + "' at " + pointer(at) + " must be an array");
    }
    return e.getAsJsonArray();
  }

  private static JsonObject object(JsonObject o, String key, String at) {
    JsonElement e = o.get(key);
    if (!e.isJsonObject()) {
      throw new IllegalArgumentException("'" + key + "' at " + pointer(at)
          + " must be an object");
    }
    return e.getAsJsonObject();
  }

  private static String escapePointer(String key) {
    return key.replace("~", "~0").replace("/", "~1");
  }

  private static String pointer(String at) {
    return at.isEmpty() ? "the root" : at;
  }

  private static IllegalArgumentException unsupported(String at, String what) {
    return new IllegalArgumentException(what + " at " + pointer(at)
        + " is not supported (docs/structured-output.md lists what is)");
  }
}
