package dev.tally.server.vocab;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * tokenizer.json to token bytes, against the fixtures in {@code clients/testdata/tokenizers} that
 * the Python client's {@code test_tokenizer.py} checks against the same expected files, plus
 * hand-computed values, the error cases and a Llama-3-sized vocabulary.
 */
final class TokenizerJsonTest {
  private static final Path FIXTURES = fixtures();
  private static final Path INVALID = FIXTURES.resolve("invalid");
  private static final HexFormat HEX = HexFormat.of();
  private static final List<String> REQUIRED = List.of("byte_level_bpe",
      "sentencepiece_byte_fallback", "unigram_metaspace", "raw_wordlevel");

  @TempDir Path dir;

  /** Surefire runs in the module directory; walk up rather than assume how deep that is. */
  private static Path fixtures() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      Path candidate = d.resolve("clients").resolve("testdata").resolve("tokenizers");
      if (Files.isDirectory(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException("no clients/testdata/tokenizers above "
        + Path.of("").toAbsolutePath());
  }

  private record Row(int id, String hex, boolean special) {}

  private record Expected(String kind, List<Row> rows, Map<String, Integer> idOf) {}

  /** Parses {@code NAME.expected.txt} (the format is in the fixtures' README). */
  private static Expected expected(String name) throws IOException {
    String kind = null;
    List<Row> rows = new ArrayList<>();
    Map<String, Integer> idOf = new LinkedHashMap<>();
    for (String line : Files.readAllLines(FIXTURES.resolve(name + ".expected.txt"), UTF_8)) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] fields = line.split("\t", -1);
      switch (fields[0]) {
        case "kind" -> kind = fields[1];
        case "id_of" -> idOf.put(new JsonReader(new StringReader(fields[1])).nextString(),
            Integer.parseInt(fields[2]));
        default -> {
          assertThat(fields[2]).as(line).isIn("0", "1");
          rows.add(new Row(Integer.parseInt(fields[0]), fields[1], fields[2].equals("1")));
        }
      }
    }
    assertThat(kind).as(name + " kind line").isNotNull();
    for (int i = 0; i < rows.size(); i++) {
      assertThat(rows.get(i).id()).as(name + ": ids must be 0, 1, 2, ...").isEqualTo(i);
    }
    return new Expected(kind, rows, idOf);
  }

  static Stream<String> names() throws IOException {
    try (Stream<Path> files = Files.list(FIXTURES)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json"))
          .map(n -> n.substring(0, n.length() - ".json".length())).sorted().toList().stream();
    }
  }

  private static DecodedVocabulary fixture(String name) throws IOException {
    return TokenizerJson.read(FIXTURES.resolve(name + ".json"));
  }

  private static String hexOf(DecodedVocabulary v, String piece) {
    int id = v.idOf(piece);
    assertThat(id).as(piece).isNotNegative();
    return HEX.formatHex(v.tokenBytes(id));
  }

  @Test
  void theFourRequiredFixturesAreThere() throws IOException {
    List<String> names = names().toList();
    assertThat(names).containsAll(REQUIRED);
    for (String name : names) {
      assertThat(FIXTURES.resolve(name + ".expected.txt")).isRegularFile();
    }
  }

  @ParameterizedTest
  @MethodSource("names")
  void fixtureDecodesToItsExpectedFile(String name) throws IOException {
    Expected want = expected(name);
    DecodedVocabulary got = fixture(name);
    assertThat(got.kind()).isEqualTo(want.kind());
    assertThat(got.size()).isEqualTo(want.rows().size());
    ByteArrayOutputStream packed = new ByteArrayOutputStream();
    List<Integer> specials = new ArrayList<>();
    for (Row row : want.rows()) {
      assertThat(HEX.formatHex(got.tokenBytes(row.id()))).as(name + ": id " + row.id())
          .isEqualTo(row.hex());
      assertThat(got.isSpecial(row.id())).as(name + ": id " + row.id() + " special")
          .isEqualTo(row.special());
      packed.writeBytes(HEX.parseHex(row.hex()));
      if (row.special()) {
        specials.add(row.id());
      }
    }
    assertThat(got.specialTokenIds()).containsExactly(specials.stream().mapToInt(i -> i).toArray());
    assertThat(got.packedBytes()).isEqualTo(packed.toByteArray());
    assertThat(got.lengths()).containsExactly(want.rows().stream()
        .mapToInt(r -> r.hex().length() / 2).toArray());
    assertThat(want.idOf()).as(name + " has id_of lines").isNotEmpty();
    want.idOf().forEach((piece, id) -> assertThat(got.idOf(piece)).as("idOf(" + piece + ")")
        .isEqualTo(id));
  }

  @ParameterizedTest
  @MethodSource("names")
  void aReaderGivesWhatTheFileGives(String name) throws IOException {
    DecodedVocabulary fromFile = fixture(name);
    String text = Files.readString(FIXTURES.resolve(name + ".json"), UTF_8);
    DecodedVocabulary fromText = TokenizerJson.read(new StringReader(text));
    assertThat(fromText.packedBytes()).isEqualTo(fromFile.packedBytes());
    assertThat(fromText.lengths()).isEqualTo(fromFile.lengths());
    assertThat(fromText.specialTokenIds()).isEqualTo(fromFile.specialTokenIds());
    assertThat(fromText.kind()).isEqualTo(fromFile.kind());
    assertThat(fromText.idOf("<no such piece>")).isEqualTo(-1);
  }

  @Test
  void byteLevelValuesComputedByHand() throws IOException {
    DecodedVocabulary v = fixture("byte_level_bpe");
    assertThat(v.kind()).isEqualTo("byte_level");
    assertThat(hexOf(v, "Ġthe")).isEqualTo("20746865"); // " the"
    assertThat(hexOf(v, "Ċ")).isEqualTo("0a");
    assertThat(hexOf(v, "âĢĶ")).isEqualTo("e28094").isEqualTo(HEX.formatHex("—".getBytes(UTF_8)));
    assertThat(hexOf(v, "ðŁĺĢ")).isEqualTo("f09f9880"); // U+1F600
    assertThat(hexOf(v, "Ã©")).isEqualTo("c3a9"); // é
    // A character split over two tokens: neither half is valid UTF-8, together they are.
    assertThat(hexOf(v, "Ġâ")).isEqualTo("20e2");
    assertThat(hexOf(v, "ĢĶ")).isEqualTo("8094");
    assertThat(hexOf(v, "Ā")).isEqualTo("00");
    assertThat(hexOf(v, "ġ")).isEqualTo("7f");
    assertThat(hexOf(v, "ł")).isEqualTo("a0");
    assertThat(hexOf(v, "Ń")).isEqualTo("ad");
    // Added tokens: special ones are no text; a non-special one is its content as UTF-8, even
    // where byte-level decoding would differ (the space and the é).
    assertThat(v.idOf("<|begin_of_text|>")).isEqualTo(25);
    assertThat(v.idOf("<|eot_id|>")).isEqualTo(26);
    assertThat(v.tokenBytes(25)).isEmpty();
    assertThat(hexOf(v, "<tool_call> é")).isEqualTo("3c746f6f6c5f63616c6c3e20c3a9");
    assertThat(v.isSpecial(24)).isTrue(); // the gap
    assertThat(v.tokenBytes(24)).isEmpty();
    assertThat(v.specialTokenIds()).containsExactly(24, 25, 26, 28, 31);
    assertThat(v.size()).isEqualTo(32);
  }

  @Test
  void byteFallbackValuesComputedByHand() throws IOException {
    DecodedVocabulary v = fixture("sentencepiece_byte_fallback");
    assertThat(v.kind()).isEqualTo("byte_fallback");
    assertThat(hexOf(v, "<0x0A>")).isEqualTo("0a");
    assertThat(hexOf(v, "<0xE2>") + hexOf(v, "<0x80>") + hexOf(v, "<0x94>")).isEqualTo("e28094");
    assertThat(hexOf(v, "▁hello")).isEqualTo("2068656c6c6f");
    assertThat(hexOf(v, "a▁b")).isEqualTo("612062");
    assertThat(hexOf(v, "<0xG0>")).isEqualTo("3c307847303e");
    assertThat(hexOf(v, "中")).isEqualTo("e4b8ad");
    assertThat(v.specialTokenIds()).containsExactly(0, 1, 2, 22);
  }

  @Test
  void unigramAndRawValuesComputedByHand() throws IOException {
    DecodedVocabulary unigram = fixture("unigram_metaspace");
    assertThat(unigram.kind()).isEqualTo("raw");
    assertThat(hexOf(unigram, "▁über")).isEqualTo("20c3bc626572");
    assertThat(hexOf(unigram, "<0x0A>")).isEqualTo("3c307830413e"); // no ByteFallback step
    assertThat(unigram.idOf("s")).isEqualTo(6);
    assertThat(unigram.tokenBytes(13)).containsExactly('s');
    DecodedVocabulary raw = fixture("raw_wordlevel");
    assertThat(raw.kind()).isEqualTo("raw");
    assertThat(hexOf(raw, "Ġnot_mapped")).startsWith("c4a0");
    assertThat(hexOf(raw, "▁kept")).isEqualTo("e296816b657074");
    assertThat(raw.idOf("")).isEqualTo(7);
    assertThat(raw.isSpecial(7)).isFalse();
  }

  /** GPT-2's encoder.py bytes_to_unicode, transcribed, as an oracle independent of the decoder. */
  private static char[] gpt2BytesToUnicode() {
    List<Integer> bs = new ArrayList<>();
    for (int b = '!'; b <= '~'; b++) {
      bs.add(b);
    }
    for (int b = '¡'; b <= '¬'; b++) {
      bs.add(b);
    }
    for (int b = '®'; b <= 'ÿ'; b++) {
      bs.add(b);
    }
    char[] table = new char[256];
    for (int b : bs) {
      table[b] = (char) b;
    }
    int n = 0;
    for (int b = 0; b < 256; b++) {
      if (!bs.contains(b)) {
        table[b] = (char) (256 + n++);
      }
    }
    return table;
  }

  @Test
  void all256BytesRoundTripThroughGpt2sTable() throws IOException {
    char[] table = gpt2BytesToUnicode();
    Path file = dir.resolve("tokenizer.json");
    try (JsonWriter out = new JsonWriter(Files.newBufferedWriter(file, UTF_8))) {
      out.beginObject().name("decoder").beginObject().name("type").value("ByteLevel").endObject();
      out.name("model").beginObject().name("type").value("BPE").name("vocab").beginObject();
      for (int b = 0; b < 256; b++) {
        out.name(String.valueOf(table[b])).value(b);
      }
      out.name("" + table[0xE2] + table[0x82] + table[0xAC]).value(256); // the euro sign
      out.endObject().endObject().endObject();
    }
    DecodedVocabulary v = TokenizerJson.read(file);
    for (int b = 0; b < 256; b++) {
      assertThat(v.tokenBytes(b)).as("byte %d", b).containsExactly((byte) b);
    }
    assertThat(v.tokenBytes(256)).isEqualTo("€".getBytes(UTF_8));
    assertThat(v.specialTokenIds()).isEmpty();
  }

  static Stream<Arguments> errorCases() throws IOException {
    return Files.readAllLines(INVALID.resolve("errors.txt"), UTF_8).stream()
        .filter(line -> !line.isEmpty() && !line.startsWith("#"))
        .map(line -> line.split("\t", 2))
        .map(fields -> Arguments.of(fields[0], fields[1]));
  }

  @Test
  void everyInvalidFixtureHasAnExpectedError() throws IOException {
    List<String> listed = errorCases().map(a -> (String) a.get()[0]).sorted().toList();
    try (Stream<Path> files = Files.list(INVALID)) {
      assertThat(files.map(p -> p.getFileName().toString()).filter(n -> !n.equals("errors.txt"))
          .sorted()).containsExactlyElementsOf(listed);
    }
  }

  @ParameterizedTest
  @MethodSource("errorCases")
  void invalidFixtureIsRefusedWithAClearMessage(String name, String substring) {
    Path file = INVALID.resolve(name);
    assertThatThrownBy(() -> TokenizerJson.read(file))
        .isInstanceOf(TokenizerFormatException.class)
        .hasMessageStartingWith(file + ": ")
        .hasMessageContaining(substring);
  }

  private static DecodedVocabulary read(String json) throws IOException {
    return TokenizerJson.read(new StringReader(json));
  }

  @Test
  void anUnsupportedDecoderIsNamed() {
    assertThatThrownBy(() -> read("{\"decoder\": {\"type\": \"WordPiece\"}, \"model\": {\"vocab\":"
        + " {\"a\": 0}}}"))
        .isInstanceOf(TokenizerFormatException.class)
        .hasMessageStartingWith("unsupported decoder type \"WordPiece\" at decoder ");
    assertThatThrownBy(() -> read("{\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\":"
        + " \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"CTC\"}]}, \"model\": {\"vocab\":"
        + " {\"a\": 0}}}"))
        .hasMessageContaining("\"CTC\" at decoder.decoders[2]");
  }

  @Test
  void aCharacterOutsideTheByteLevelAlphabetNamesPieceIdAndCharacter() {
    assertThatThrownBy(() -> read("{\"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\":"
        + " {\"a\": 0, \"x\\ty\": 1}}}"))
        .isInstanceOf(TokenizerFormatException.class)
        .hasMessage("model.vocab piece \"x\\ty\" (id 1) has the character U+0009, which is not in "
            + "the byte-level alphabet (GPT-2's bytes_to_unicode)");
  }

  @Test
  void malformedJsonIsAFormatErrorWithThePosition() {
    assertThatThrownBy(() -> read("{\"model\": {\"vocab\": {\"a\": 0,}}}"))
        .isInstanceOf(TokenizerFormatException.class)
        .hasMessageStartingWith("not valid JSON: ")
        .hasMessageContaining("line 1 column")
        .hasMessageNotContaining("\n");
    assertThatThrownBy(() -> read("{\"model\": {\"vocab\": {\"a\": 0}}} trailing"))
        .hasMessageStartingWith("not valid JSON: unexpected content at line 1 column");
  }

  @Test
  void aMissingFileIsAnIoErrorNotAFormatError() {
    assertThatThrownBy(() -> TokenizerJson.read(dir.resolve("missing.json")))
        .isInstanceOf(NoSuchFileException.class);
  }

  @Test
  void duplicateKeys() throws IOException {
    DecodedVocabulary same = read("{\"model\": {\"vocab\": {\"a\": 0, \"a\": 0, \"b\": 1}}}");
    assertThat(same.packedBytes()).isEqualTo("ab".getBytes(UTF_8)); // the same id twice: harmless
    assertThatThrownBy(() -> read("{\"added_tokens\": [{\"id\": 1, \"content\": \"x\", \"content\":"
        + " \"y\"}], \"model\": {\"vocab\": {\"a\": 0}}}"))
        .hasMessage("duplicate key \"content\" in added_tokens[0]");
  }

  @Test
  void aNullDecoderFollowsTheByteLevelPreTokenizerOnly() throws IOException {
    DecodedVocabulary byteLevel = read("{\"decoder\": null, \"pre_tokenizer\": {\"type\": "
        + "\"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\"}, {\"type\": \"ByteLevel\"}]},"
        + " \"model\": {\"vocab\": {\"Ġx\": 0}}}");
    assertThat(byteLevel.kind()).isEqualTo("byte_level");
    assertThat(byteLevel.tokenBytes(0)).isEqualTo(" x".getBytes(UTF_8));
    DecodedVocabulary raw = read("{\"decoder\": null, \"pre_tokenizer\": {\"type\": "
        + "\"Metaspace\"}, \"model\": {\"vocab\": {\"▁x\": 0}}}");
    assertThat(raw.kind()).isEqualTo("raw");
    assertThat(raw.tokenBytes(0)).isEqualTo("▁x".getBytes(UTF_8));
  }

  @Test
  void aByteFallbackSequenceWithoutReplaceKeepsTheMetaspace() throws IOException {
    DecodedVocabulary v = read("{\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\":"
        + " \"ByteFallback\"}, {\"type\": \"Fuse\"}]}, \"model\": {\"vocab\": {\"▁x\": 0,"
        + " \"<0x41>\": 1}}}");
    assertThat(v.kind()).isEqualTo("byte_fallback");
    assertThat(v.tokenBytes(0)).isEqualTo("▁x".getBytes(UTF_8));
    assertThat(v.tokenBytes(1)).containsExactly('A');
  }

  @Test
  void accessorsHandOutCopiesAndCheckTheId() throws IOException {
    DecodedVocabulary v = fixture("raw_wordlevel");
    v.tokenBytes(0)[0] = 'X';
    v.packedBytes()[0] = 'X';
    v.specialTokenIds()[0] = 0;
    assertThat(v.tokenBytes(0)).isEqualTo("hello".getBytes(UTF_8));
    assertThat(v.packedBytes()[0]).isEqualTo((byte) 'h');
    assertThat(v.specialTokenIds()).containsExactly(10, 11, 12);
    assertThatThrownBy(() -> v.tokenBytes(v.size())).isInstanceOf(IndexOutOfBoundsException.class)
        .hasMessageContaining("token id 16");
    assertThatThrownBy(() -> v.isSpecial(-1)).isInstanceOf(IndexOutOfBoundsException.class);
  }

  /**
   * A Llama-3-sized file (255,999 model pieces, 250,000 merges to skip, one added token: 256,000
   * ids, 9.8 MB), generated here. Reading it took 0.4 s in a fresh JVM and 0.1 s warm on a
   * 2-core CI machine; no timing is asserted (benchmarks measure speed), only the decoded ids.
   */
  @Test
  void aLlama3SizedByteLevelVocabulary() throws IOException {
    char[] table = gpt2BytesToUnicode();
    int modelIds = 255_999;
    Path file = dir.resolve("tokenizer.json");
    try (Writer w = Files.newBufferedWriter(file, UTF_8); JsonWriter out = new JsonWriter(w)) {
      out.beginObject().name("added_tokens").beginArray().beginObject().name("id").value(modelIds)
          .name("content").value("<|eot_id|>").name("special").value(true).endObject().endArray();
      out.name("decoder").beginObject().name("type").value("ByteLevel").endObject();
      out.name("model").beginObject().name("type").value("BPE").name("vocab").beginObject();
      for (int id = 0; id < modelIds; id++) {
        out.name(syntheticPiece(table, id)).value(id);
      }
      out.endObject().name("merges").beginArray();
      for (int i = 0; i < 250_000; i++) {
        out.beginArray().value(table[' '] + "t").value(Integer.toString(i)).endArray();
      }
      out.endArray().endObject().endObject();
    }
    DecodedVocabulary v = TokenizerJson.read(file);
    assertThat(v.size()).isEqualTo(256_000);
    assertThat(v.kind()).isEqualTo("byte_level");
    assertThat(v.specialTokenIds()).containsExactly(modelIds);
    assertThat(v.tokenBytes(0)).containsExactly(0);
    assertThat(v.tokenBytes(255)).containsExactly(0xFF);
    assertThat(v.tokenBytes(256)).isEqualTo(" t256".getBytes(UTF_8));
    assertThat(v.tokenBytes(128_000)).isEqualTo("—128000".getBytes(UTF_8));
    assertThat(v.tokenBytes(255_998)).isEqualTo(" t255998".getBytes(UTF_8));
    assertThat(v.tokenBytes(modelIds)).isEmpty();
    assertThat(v.idOf(syntheticPiece(table, 200_001))).isEqualTo(200_001);
    assertThat(v.idOf("<|eot_id|>")).isEqualTo(modelIds);
    int[] lengths = v.lengths();
    long total = 0;
    for (int id = 0; id < lengths.length; id++) {
      total += lengths[id];
    }
    assertThat(v.packedBytes()).hasSize((int) total);
  }

  /** Id &lt; 256: that byte; a multiple of 1000: an em dash and the id; else " t" and the id. */
  private static String syntheticPiece(char[] table, int id) {
    if (id < 256) {
      return String.valueOf(table[id]);
    }
    if (id % 1000 == 0) {
      return "âĢĶ" + id;
    }
    return table[' '] + "t" + id;
  }
}
