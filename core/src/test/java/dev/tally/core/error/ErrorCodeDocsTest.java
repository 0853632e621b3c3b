package dev.tally.core.error;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code docs/errors.md} documents every {@link ErrorCode}, once, with its gRPC status. */
final class ErrorCodeDocsTest {
  private static final Pattern ROW =
      Pattern.compile("^\\| `([A-Z_]+)` \\| `([A-Z_]+)` \\|(.*)$", Pattern.MULTILINE);

  @Test
  void everyErrorCodeHasOneRowWithItsStatusAndAFix() throws Exception {
    Path doc = Path.of("..", "docs", "errors.md");
    assertThat(doc).exists();
    Map<String, String> documented = new LinkedHashMap<>();
    Matcher m = ROW.matcher(Files.readString(doc));
    while (m.find()) {
      assertThat(documented.put(m.group(1), m.group(2))).as("%s documented twice", m.group(1))
          .isNull();
      String[] cells = m.group(3).split("\\|");
      assertThat(cells).as("scope, causes and fix of %s", m.group(1)).hasSizeGreaterThanOrEqualTo(3);
      for (int i = 0; i < 3; i++) {
        assertThat(cells[i].strip()).as("cell %d of %s", i, m.group(1)).isNotEmpty();
      }
    }
    for (ErrorCode code : ErrorCode.values()) {
      assertThat(documented).as("docs/errors.md row for %s", code).containsKey(code.name());
      assertThat(documented.get(code.name())).as("gRPC status of %s", code)
          .isEqualTo(code.canonical().name());
    }
    assertThat(documented.keySet()).as("documented codes that do not exist")
        .allMatch(name -> {
          try {
            ErrorCode.valueOf(name);
            return true;
          } catch (IllegalArgumentException e) {
            return false;
          }
        });
  }
}
