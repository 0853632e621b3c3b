package dev.tally.server.vocab;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;
import dev.tally.server.vocab.DecodedVocabulary.PieceIndex;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.math.BigDecimal;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Reads a Hugging Face {@code tokenizer.json} into each token id's raw bytes (what the token adds
 * to the output, as UTF-8 bytes) and which ids are special.
 *
 * <p>Tokens come from {@code model.vocab} (piece → id for BPE and WordLevel; for Unigram a list of
 * {@code [piece, score]} whose index is the id) and {@code added_tokens}, which override the model
 * entry with the same id. A special added token is no text (empty bytes); any other added token is
 * its {@code content} as UTF-8. An id no token has (a gap) is special with empty bytes. The {@code
 * decoder} section (or, without one, {@code pre_tokenizer}) says how a model piece becomes bytes:
 *
 * <ul>
 *   <li>{@code ByteLevel} (GPT-2, Llama-3, Qwen): each char is one byte through the inverse of
 *       GPT-2's {@code bytes_to_unicode}; kind {@code byte_level}. So is a null decoder with a
 *       ByteLevel pre-tokenizer.
 *   <li>a {@code Sequence} with {@code ByteFallback} (Llama-2, Mistral): {@code <0xNN>} is byte NN;
 *       kind {@code byte_fallback}.
 *   <li>{@code Replace} of ▁ by a space, or {@code Metaspace}: ▁ becomes a space in every other
 *       piece, which is UTF-8 encoded; kind {@code byte_fallback} with ByteFallback, else {@code
 *       raw}.
 *   <li>no decoder: the piece's UTF-8 bytes, kind {@code raw}.
 * </ul>
 *
 * {@code Fuse} and {@code Strip} are ignored: they join or trim the decoded text of a whole
 * sequence, not one token's bytes. Any other decoder is refused rather than guessed at.
 *
 * <p>The file is streamed: {@code model.merges} (280k pairs in Llama-3) is skipped unread. The
 * Python client's {@code tally_client/_tokenizer.py} implements the same rules; both are checked
 * against {@code clients/testdata/tokenizers}.
 */
public final class TokenizerJson {
  /** Ids at or above this are refused, so that a stray id cannot allocate gigabytes (2^24). */
  static final int MAX_SIZE = 1 << 24;

  /** Nesting allowed in the small sections read whole (decoder, pre_tokenizer). */
  private static final int MAX_DEPTH = 64;

  static final String BYTE_LEVEL = "byte_level";
  static final String BYTE_FALLBACK = "byte_fallback";
  static final String RAW = "raw";

  /** GPT-2's bytes_to_unicode, inverted: the byte of each char of the alphabet, else -1. */
  private static final int[] BYTE_OF_CHAR = byteLevelAlphabet();

  private TokenizerJson() {}

  /**
   * Reads and decodes a {@code tokenizer.json} file (UTF-8).
   *
   * @throws TokenizerFormatException when the content is bad; the message starts with the file
   * @throws IOException when the file cannot be read
   */
  public static DecodedVocabulary read(Path file) throws IOException {
    CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    try (Reader in = new InputStreamReader(Files.newInputStream(file), utf8)) {
      return read(in);
    } catch (TokenizerFormatException e) {
      throw new TokenizerFormatException(file + ": " + e.getMessage(), e);
    } catch (CharacterCodingException e) {
      throw new TokenizerFormatException(file + ": not valid UTF-8", e);
    }
  }

  /**
   * Reads and decodes {@code tokenizer.json} text.
   *
   * @throws TokenizerFormatException when the content is bad
   * @throws IOException when {@code json} fails
   */
  public static DecodedVocabulary read(Reader json) throws IOException {
    JsonReader in = new JsonReader(json);
    in.setStrictness(Strictness.STRICT);
    Document document = new Document();
    try {
      document.read(in);
    } catch (MalformedJsonException | EOFException e) {
      throw new TokenizerFormatException("not valid JSON: " + gsonMessage(e), e);
    }
    return document.decode();
  }

  /**
   * Gson's message has the line, column and JSON path, but its second line is a help link and a
   * strict-mode refusal starts with advice meant for programmers ("Use JsonReader.setStrictness").
   */
  private static String gsonMessage(IOException e) {
    String first = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
    String advice = "Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON";
    return first.startsWith(advice) ? "unexpected content" + first.substring(advice.length())
        : first;
  }

  /** One added token, as {@code added_tokens[index]} gives it. */
  private record Added(int index, int id, String content, boolean special) {}

  /**
   * What the file says, gathered before anything is decoded: the decoder section may come after
   * the model (any key order is valid JSON), so pieces wait as strings until the end.
   */
  private static final class Document {
    private String[] modelPieces = new String[1024];
    private int modelSize;
    private int modelCount;
    private boolean modelSeen;
    private boolean vocabSeen;
    private boolean vocabIsList;
    private String modelType;
    private final List<Added> added = new ArrayList<>();
    private Object decoder; // null when absent or JSON null
    private Object preTokenizer;

    void read(JsonReader in) throws IOException {
      if (in.peek() != JsonToken.BEGIN_OBJECT) {
        throw fail("the top level must be a JSON object, not " + describe(in.peek()));
      }
      in.beginObject();
      Set<String> names = new HashSet<>();
      while (in.hasNext()) {
        String name = in.nextName();
        unique(names, name, "the top level");
        switch (name) {
          case "model" -> readModel(in);
          case "added_tokens" -> readAddedTokens(in);
          case "decoder" -> decoder = readTree(in, "decoder", 0);
          case "pre_tokenizer" -> preTokenizer = readTree(in, "pre_tokenizer", 0);
          default -> in.skipValue(); // normalizer, post_processor, ...: no effect on one token
        }
      }
      in.endObject();
      if (in.peek() != JsonToken.END_DOCUMENT) { // strict mode throws first; kept as a guard
        throw fail("not valid JSON: more content after the top-level object");
      }
    }

    private void readModel(JsonReader in) throws IOException {
      if (in.peek() != JsonToken.BEGIN_OBJECT) {
        throw fail("model must be an object, not " + describe(in.peek()));
      }
      modelSeen = true;
      in.beginObject();
      Set<String> names = new HashSet<>();
      while (in.hasNext()) {
        String name = in.nextName();
        unique(names, name, "model");
        if (name.equals("vocab")) {
          readVocab(in);
        } else if (name.equals("type") && in.peek() == JsonToken.STRING) {
          modelType = in.nextString();
        } else {
          in.skipValue(); // merges above all: never needed for a token's bytes
        }
      }
      in.endObject();
    }

    private void readVocab(JsonReader in) throws IOException {
      vocabSeen = true;
      JsonToken token = in.peek();
      if (token == JsonToken.BEGIN_OBJECT) {
        in.beginObject();
        while (in.hasNext()) {
          String piece = in.nextName();
          putModel(readId(in, () -> "model.vocab[" + quote(piece) + "]"), piece);
        }
        in.endObject();
      } else if (token == JsonToken.BEGIN_ARRAY) {
        vocabIsList = true;
        readUnigramVocab(in);
      } else {
        throw fail("model.vocab must be an object (piece to id) or a list of [piece, score], not "
            + describe(token));
      }
    }

    /** Unigram's {@code [[piece, score], ...]}: the index is the id, the score is not needed. */
    private void readUnigramVocab(JsonReader in) throws IOException {
      in.beginArray();
      for (int id = 0; in.hasNext(); id++) {
        if (id >= MAX_SIZE) {
          throw fail("model.vocab has more than " + MAX_SIZE + " entries");
        }
        if (in.peek() != JsonToken.BEGIN_ARRAY) {
          throw notAPair(id);
        }
        in.beginArray();
        if (!in.hasNext() || in.peek() != JsonToken.STRING) {
          throw notAPair(id);
        }
        String piece = in.nextString();
        if (!in.hasNext() || in.peek() != JsonToken.NUMBER) {
          throw notAPair(id);
        }
        in.skipValue();
        if (in.hasNext()) {
          throw notAPair(id);
        }
        in.endArray();
        putModel(id, piece);
      }
      in.endArray();
    }

    private static TokenizerFormatException notAPair(int id) {
      return fail("model.vocab[" + id + "] must be a [piece, score] pair");
    }

    private void putModel(int id, String piece) throws TokenizerFormatException {
      if (id >= modelPieces.length) {
        modelPieces = Arrays.copyOf(modelPieces,
            Math.min(MAX_SIZE, Math.max(id + 1, 2 * modelPieces.length)));
      }
      String old = modelPieces[id];
      if (old != null && !old.equals(piece)) {
        throw fail("model.vocab gives id " + id + " to both " + quote(old) + " and "
            + quote(piece));
      }
      if (old == null) {
        modelCount++;
      }
      modelPieces[id] = piece;
      modelSize = Math.max(modelSize, id + 1);
    }

    private void readAddedTokens(JsonReader in) throws IOException {
      if (in.peek() == JsonToken.NULL) {
        in.nextNull();
        return;
      }
      if (in.peek() != JsonToken.BEGIN_ARRAY) {
        throw fail("added_tokens must be a list, not " + describe(in.peek()));
      }
      in.beginArray();
      for (int i = 0; in.hasNext(); i++) {
        added.add(readAdded(in, i));
      }
      in.endArray();
    }

    private static Added readAdded(JsonReader in, int index) throws IOException {
      String where = "added_tokens[" + index + "]";
      if (in.peek() != JsonToken.BEGIN_OBJECT) {
        throw fail(where + " must be an object, not " + describe(in.peek()));
      }
      in.beginObject();
      Set<String> names = new HashSet<>();
      int id = -1;
      String content = null;
      boolean special = false;
      while (in.hasNext()) {
        String name = in.nextName();
        unique(names, name, where);
        switch (name) {
          case "id" -> id = readId(in, () -> where + ".id");
          case "content" -> {
            if (in.peek() != JsonToken.STRING) {
              throw fail(where + ".content must be a string, not " + describe(in.peek()));
            }
            content = in.nextString();
          }
          case "special" -> {
            if (in.peek() != JsonToken.BOOLEAN) {
              throw fail(where + ".special must be true or false, not " + describe(in.peek()));
            }
            special = in.nextBoolean();
          }
          default -> in.skipValue();
        }
      }
      in.endObject();
      if (id < 0) {
        throw fail(where + " has no \"id\"");
      }
      if (content == null) {
        throw fail(where + " has no \"content\"");
      }
      return new Added(index, id, content, special);
    }

    /** A token id: a JSON integer in [0, MAX_SIZE); {@code where} is built only for an error. */
    private static int readId(JsonReader in, Supplier<String> where) throws IOException {
      JsonToken token = in.peek();
      if (token != JsonToken.NUMBER) {
        throw fail(where.get() + " must be an integer id, not " + describe(token));
      }
      String text = in.nextString();
      int start = text.startsWith("-") ? 1 : 0;
      boolean digits = text.length() > start;
      boolean zero = true;
      for (int i = start; i < text.length(); i++) {
        char c = text.charAt(i);
        digits &= c >= '0' && c <= '9';
        zero &= c == '0';
      }
      if (!digits) {
        throw fail(where.get() + " must be an integer id, not " + text);
      }
      if (start == 1 && !zero) {
        throw fail(where.get() + " is a negative id: " + text);
      }
      if (text.length() - start > 8 || Integer.parseInt(text, start, text.length(), 10)
          >= MAX_SIZE) {
        throw fail(where.get() + " is " + text + ", above the largest supported id "
            + (MAX_SIZE - 1));
      }
      return Integer.parseInt(text, start, text.length(), 10);
    }

    /** A small section as maps, lists, strings, booleans, numbers and nulls. */
    private static Object readTree(JsonReader in, String where, int depth) throws IOException {
      if (depth > MAX_DEPTH) {
        throw fail(where + " is nested more than " + MAX_DEPTH + " deep");
      }
      switch (in.peek()) {
        case BEGIN_OBJECT -> {
          Map<String, Object> map = new LinkedHashMap<>();
          in.beginObject();
          while (in.hasNext()) {
            String name = in.nextName();
            map.put(name, readTree(in, where + "." + name, depth + 1));
          }
          in.endObject();
          return map;
        }
        case BEGIN_ARRAY -> {
          List<Object> list = new ArrayList<>();
          in.beginArray();
          while (in.hasNext()) {
            list.add(readTree(in, where + "[" + list.size() + "]", depth + 1));
          }
          in.endArray();
          return list;
        }
        case STRING -> {
          return in.nextString();
        }
        case NUMBER -> {
          return new BigDecimal(in.nextString());
        }
        case BOOLEAN -> {
          return in.nextBoolean();
        }
        default -> {
          in.nextNull();
          return null;
        }
      }
    }

    DecodedVocabulary decode() throws TokenizerFormatException {
      if (!modelSeen) {
        throw fail("no \"model\" section");
      }
      if (!vocabSeen) {
        throw fail("model has no \"vocab\"");
      }
      checkVocabShape();
      Scheme scheme = Scheme.of(decoder, preTokenizer);
      int size = modelSize;
      for (Added a : added) {
        size = Math.max(size, a.id() + 1);
      }
      if (size == 0) {
        throw fail("no tokens: model.vocab and added_tokens are both empty");
      }
      Added[] addedById = addedById(size);
      Packer out = new Packer(size * 4);
      int[] offsets = new int[size + 1];
      boolean[] special = new boolean[size];
      for (int id = 0; id < size; id++) {
        Added a = addedById[id];
        String piece = id < modelSize ? modelPieces[id] : null;
        if (a != null) {
          if (a.special()) {
            special[id] = true;
          } else {
            out.utf8(a.content(), false, "added_tokens content", id);
          }
        } else if (piece != null) {
          scheme.decode(piece, id, out);
        } else {
          special[id] = true;
        }
        offsets[id + 1] = out.length();
      }
      return new DecodedVocabulary(scheme.kind(), out.bytes(), offsets, special, index());
    }

    private void checkVocabShape() throws TokenizerFormatException {
      if ("Unigram".equals(modelType) && !vocabIsList) {
        throw fail("model.type is \"Unigram\" but model.vocab is an object, not a list of "
            + "[piece, score]");
      }
      if (modelType != null && List.of("BPE", "WordLevel", "WordPiece").contains(modelType)
          && vocabIsList) {
        throw fail("model.type is " + quote(modelType) + " but model.vocab is a list, not an "
            + "object (piece to id)");
      }
    }

    private Added[] addedById(int size) throws TokenizerFormatException {
      Added[] byId = new Added[size];
      for (Added a : added) {
        Added old = byId[a.id()];
        if (old != null && !(old.content().equals(a.content()) && old.special() == a.special())) {
          throw fail("added_tokens[" + old.index() + "] and added_tokens[" + a.index()
              + "] both have id " + a.id());
        }
        byId[a.id()] = a;
      }
      return byId;
    }

    /**
     * Model pieces first, so that a key given twice in a vocab object is caught; then added
     * tokens, which win over a model piece (Hugging Face's token_to_id looks there first).
     */
    private PieceIndex index() throws TokenizerFormatException {
      PieceIndex index = new PieceIndex(modelCount + added.size());
      for (int id = 0; id < modelSize; id++) {
        String piece = modelPieces[id];
        if (piece != null) {
          int held = index.putModel(piece, id);
          if (held >= 0 && !vocabIsList) { // a Unigram list may repeat a piece: the first wins
            throw fail("model.vocab has the key " + quote(piece) + " twice (ids " + held + " and "
                + id + ")");
          }
        }
      }
      for (Added a : added) {
        index.putAdded(a.content(), a.id());
      }
      return index;
    }
  }

  /** How model pieces become bytes, from the decoder (or pre-tokenizer) section. */
  private record Scheme(String kind, boolean byteLevel, boolean byteFallback, boolean metaspace) {
    static Scheme of(Object decoder, Object preTokenizer) throws TokenizerFormatException {
      if (decoder == null) {
        return hasByteLevel(preTokenizer)
            ? new Scheme(BYTE_LEVEL, true, false, false)
            : new Scheme(RAW, false, false, false);
      }
      Steps steps = new Steps();
      steps.add(decoder, "decoder");
      if (steps.byteLevel && (steps.byteFallback || steps.metaspace)) {
        throw fail("unsupported decoder: it mixes ByteLevel with "
            + (steps.byteFallback ? "ByteFallback" : "a \"▁\" replacement"));
      }
      String kind = steps.byteLevel ? BYTE_LEVEL : steps.byteFallback ? BYTE_FALLBACK : RAW;
      return new Scheme(kind, steps.byteLevel, steps.byteFallback, steps.metaspace);
    }

    /** A null decoder with a ByteLevel pre-tokenizer, alone or in a Sequence, is byte-level. */
    private static boolean hasByteLevel(Object preTokenizer) {
      if (!(preTokenizer instanceof Map<?, ?> map)) {
        return false;
      }
      if ("ByteLevel".equals(map.get("type"))) {
        return true;
      }
      if ("Sequence".equals(map.get("type")) && map.get("pretokenizers") instanceof List<?> list) {
        for (Object member : list) {
          if (hasByteLevel(member)) {
            return true;
          }
        }
      }
      return false;
    }

    void decode(String piece, int id, Packer out) throws TokenizerFormatException {
      if (byteLevel) {
        out.byteLevel(piece, id);
      } else if (byteFallback && isByteToken(piece)) {
        out.add(Integer.parseInt(piece, 3, 5, 16));
      } else {
        out.utf8(piece, metaspace, "model.vocab piece", id);
      }
    }

    /** Exactly {@code <0xNN>}, two hex digits of either case (as Hugging Face's ByteFallback). */
    private static boolean isByteToken(String piece) {
      return piece.length() == 6 && piece.startsWith("<0x") && piece.charAt(5) == '>'
          && isHex(piece.charAt(3)) && isHex(piece.charAt(4));
    }

    private static boolean isHex(char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
  }

  /** The decoder's steps, a Sequence flattened: what each one means for one token's bytes. */
  private static final class Steps {
    boolean byteLevel;
    boolean byteFallback;
    boolean metaspace; // ▁ becomes a space

    void add(Object step, String where) throws TokenizerFormatException {
      if (!(step instanceof Map<?, ?> map)) {
        throw fail(where + " must be an object, not " + describeValue(step));
      }
      if (!(map.get("type") instanceof String type)) {
        throw fail(where + " has no \"type\"");
      }
      switch (type) {
        case "Sequence" -> {
          if (!(map.get("decoders") instanceof List<?> members)) {
            throw fail(where + " is a Sequence without a \"decoders\" list");
          }
          for (int i = 0; i < members.size(); i++) {
            add(members.get(i), where + ".decoders[" + i + "]");
          }
        }
        case "ByteLevel" -> byteLevel = true;
        case "ByteFallback" -> byteFallback = true;
        case "Metaspace" -> {
          Object replacement = map.get("replacement");
          if (replacement != null && !"▁".equals(replacement)) {
            throw fail("unsupported Metaspace decoder at " + where + ": its replacement is "
                + describeValue(replacement) + "; only \"▁\" is supported");
          }
          metaspace = true;
        }
        case "Replace" -> {
          checkReplace(map, where);
          metaspace = true;
        }
        case "Fuse", "Strip" -> { } // whole-sequence steps: they join or trim, per token nothing
        default -> throw fail("unsupported decoder type " + quote(type) + " at " + where
            + " (supported: ByteLevel, ByteFallback, Metaspace, Replace, Fuse, Strip, Sequence)");
      }
    }

    private static void checkReplace(Map<?, ?> map, String where)
        throws TokenizerFormatException {
      Object pattern = map.get("pattern");
      Object content = map.get("content");
      if (pattern instanceof Map<?, ?> p && "▁".equals(p.get("String")) && " ".equals(content)) {
        return;
      }
      String what;
      if (pattern instanceof Map<?, ?> p && p.get("String") instanceof String s) {
        what = quote(s);
      } else if (pattern instanceof Map<?, ?> p && p.get("Regex") instanceof String r) {
        what = "the regex " + quote(r);
      } else {
        what = describeValue(pattern);
      }
      throw fail("unsupported Replace decoder at " + where + ": it replaces " + what + " with "
          + describeValue(content) + "; only \"▁\" with \" \" is supported");
    }
  }

  /** Every token's bytes, appended in id order into one growing array. */
  private static final class Packer {
    private byte[] buffer;
    private int length;

    Packer(int capacity) {
      buffer = new byte[Math.max(capacity, 16)];
    }

    int length() {
      return length;
    }

    byte[] bytes() {
      return buffer;
    }

    void add(int b) {
      ensure(1);
      buffer[length++] = (byte) b;
    }

    void byteLevel(String piece, int id) throws TokenizerFormatException {
      ensure(piece.length());
      for (int i = 0; i < piece.length(); i++) {
        char c = piece.charAt(i);
        int b = c < BYTE_OF_CHAR.length ? BYTE_OF_CHAR[c] : -1;
        if (b < 0) {
          throw fail("model.vocab piece " + quote(piece) + " (id " + id + ") has the character "
              + String.format("U+%04X", piece.codePointAt(i)) + ", which is not in the byte-level "
              + "alphabet (GPT-2's bytes_to_unicode)");
        }
        buffer[length++] = (byte) b;
      }
    }

    /** Strict UTF-8: a lone surrogate is an error, not a '?' as String.getBytes would write. */
    void utf8(String text, boolean metaspace, String what, int id)
        throws TokenizerFormatException {
      ensure(3 * text.length());
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        if (c < 0x80) {
          buffer[length++] = (byte) c;
        } else if (c < 0x800) {
          buffer[length++] = (byte) (0xC0 | c >>> 6);
          buffer[length++] = (byte) (0x80 | (c & 0x3F));
        } else if (metaspace && c == '▁') {
          buffer[length++] = ' ';
        } else if (!Character.isSurrogate(c)) {
          buffer[length++] = (byte) (0xE0 | c >>> 12);
          buffer[length++] = (byte) (0x80 | (c >>> 6 & 0x3F));
          buffer[length++] = (byte) (0x80 | (c & 0x3F));
        } else if (Character.isHighSurrogate(c) && i + 1 < text.length()
            && Character.isLowSurrogate(text.charAt(i + 1))) {
          int cp = Character.toCodePoint(c, text.charAt(++i));
          buffer[length++] = (byte) (0xF0 | cp >>> 18);
          buffer[length++] = (byte) (0x80 | (cp >>> 12 & 0x3F));
          buffer[length++] = (byte) (0x80 | (cp >>> 6 & 0x3F));
          buffer[length++] = (byte) (0x80 | (cp & 0x3F));
        } else {
          throw fail(what + " " + quote(text) + " (id " + id + ") is not valid Unicode: it has "
              + "a lone surrogate");
        }
      }
    }

    private void ensure(int more) {
      if (length + more > buffer.length) {
        buffer = Arrays.copyOf(buffer, Math.max(2 * buffer.length, length + more));
      }
    }
  }

  /**
   * The printable Latin-1 bytes (33..126, 161..172, 174..255) are their own char; the other 68
   * are U+0100, U+0101, ... in increasing byte order. GPT-2's encoder.py builds the forward table.
   */
  private static int[] byteLevelAlphabet() {
    int[] byteOf = new int[256 + 68];
    Arrays.fill(byteOf, -1);
    int next = 256;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      byteOf[printable ? b : next++] = b;
    }
    return byteOf;
  }

  private static void unique(Set<String> names, String name, String where)
      throws TokenizerFormatException {
    if (!names.add(name)) {
      throw fail("duplicate key " + quote(name) + " in " + where);
    }
  }

  private static TokenizerFormatException fail(String message) {
    return new TokenizerFormatException(message);
  }

  private static String describe(JsonToken token) {
    return switch (token) {
      case BEGIN_OBJECT -> "an object";
      case BEGIN_ARRAY -> "a list";
      case STRING -> "a string";
      case NUMBER -> "a number";
      case BOOLEAN -> "a boolean";
      case NULL -> "null";
      default -> "the end of the input";
    };
  }

  private static String describeValue(Object value) {
    if (value instanceof String s) {
      return quote(s);
    }
    if (value instanceof Map) {
      return "an object";
    }
    if (value instanceof List) {
      return "a list";
    }
    if (value instanceof Boolean) {
      return "a boolean";
    }
    return value == null ? "null" : "a number";
  }

  /**
   * A piece as a JSON string literal: quotes, backslashes, control chars and lone surrogates are
   * escaped, so that a message never carries raw control bytes. The Python client quotes alike.
   */
  static String quote(String text) {
    StringBuilder out = new StringBuilder(text.length() + 2).append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean pair = Character.isHighSurrogate(c) && i + 1 < text.length()
          && Character.isLowSurrogate(text.charAt(i + 1));
      boolean paired = pair || Character.isLowSurrogate(c) && i > 0
          && Character.isHighSurrogate(text.charAt(i - 1));
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x7F || (Character.isSurrogate(c) && !paired)) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }
}
