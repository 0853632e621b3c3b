package dev.tally.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code docs/errors.md} against the bad-input matrix ({@link BadInputMatrixTest#expectations()},
 * the same table the matrix runs, not a copy): every (gRPC status, Tally code) pair the matrix
 * expects is a row of the doc with that status, and every row of the doc is reached by the matrix
 * or listed below as out of reach of bad input, with the reason. (Core's {@code
 * ErrorCodeDocsTest} holds the same table to the {@code ErrorCode} enum.)
 */
final class ErrorsDocMatrixTest {
  private static final Pattern ROW =
      Pattern.compile("^\\| `([A-Z_]+)` \\| `([A-Z_]+)` \\|", Pattern.MULTILINE);

  /** Documented codes no request can provoke on a healthy server, and why. */
  private static final Map<String, String> NOT_FROM_BAD_INPUT = Map.of(
      "PROCESSOR_FAILED", "needs a processor or selector that throws or picks a non-candidate:"
          + " a broken plugin, not a bad request",
      "INTERNAL", "a bug in Tally, or the sampler pool refusing work while the server stops"
          + " (SessionCallAtomicityTest)",
      "UNAVAILABLE", "the server shutting down (ShutdownEndToEndTest, FaultsEndToEndTest)",
      "DEADLINE_EXCEEDED", "a row still running at the step deadline: a slow plugin"
          + " (SamplerPoolTest)",
      "INVALID_SHARED_MEMORY", "needs shared-memory regions of the client's, on JDK 22+"
          + " (SharedMemoryEndToEndTest)",
      "SHARED_MEMORY_UNAVAILABLE", "an older JVM, a non-loopback listener or an object the"
          + " server cannot open (SharedMemoryEndToEndTest)",
      "REGION_UNAVAILABLE", "a region truncated under the server (SharedMemoryEndToEndTest)",
      "MALFORMED_REQUEST", "bytes that do not parse, which the generated stubs never send"
          + " (MalformedRequestsEndToEndTest, WireFuzzTest)");

  private static Map<String, String> documented() throws Exception {
    Path doc = Path.of("..", "docs", "errors.md");
    assertThat(doc).exists();
    Map<String, String> statusByCode = new LinkedHashMap<>();
    Matcher m = ROW.matcher(Files.readString(doc));
    while (m.find()) {
      statusByCode.put(m.group(1), m.group(2));
    }
    assertThat(statusByCode).as("rows of docs/errors.md").isNotEmpty();
    return statusByCode;
  }

  @Test
  void everyPairTheMatrixExpectsIsDocumentedWithThatStatus() throws Exception {
    Map<String, String> doc = documented();
    for (BadInputMatrixTest.Expect e : BadInputMatrixTest.expectations()) {
      assertThat(doc).as("docs/errors.md row for %s", e.reason()).containsKey(e.reason());
      assertThat(doc.get(e.reason())).as("documented gRPC status of %s", e.reason())
          .isEqualTo(e.code().name());
    }
  }

  @Test
  void everyDocumentedCodeIsReachedByTheMatrixOrSaidNotToBe() throws Exception {
    Set<String> reached = new TreeSet<>();
    BadInputMatrixTest.expectations().forEach(e -> reached.add(e.reason()));
    Set<String> expected = new TreeSet<>(reached);
    expected.addAll(NOT_FROM_BAD_INPUT.keySet());
    assertThat(new TreeSet<>(documented().keySet())).isEqualTo(expected);
    // Kept honest: a code the matrix reaches must leave the list of the unreachable.
    assertThat(reached).as("reached by the matrix yet listed as unreachable")
        .doesNotContainAnyElementsOf(NOT_FROM_BAD_INPUT.keySet());
  }
}
