package dev.tally.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The detector's arithmetic. That its green lists are the plugin's is checked end to end in
 * {@code plugins/dist} (ShippedPluginsEndToEndTest), where both run.
 */
final class WatermarkDetectorTest {
  @Test
  void zScoreIsKirchenbauersFormula() {
    WatermarkDetector d = new WatermarkDetector(100, 0.25, 15485863L);
    int[] tokens = new int[41];
    for (int i = 1; i < tokens.length; i++) {
      // pick each next token green: the first green id after the previous token
      int t = 0;
      while (!d.isGreen(t, tokens[i - 1])) {
        t++;
      }
      tokens[i] = t;
    }
    WatermarkDetector.Result all = d.detect(tokens, null, false);
    assertThat(all.scored()).isEqualTo(40);
    assertThat(all.green()).isEqualTo(40);
    assertThat(all.z()).isCloseTo((40 - 10) / Math.sqrt(40 * 0.25 * 0.75), within(1e-12));
    assertThat(all.pValue()).isLessThan(1e-10);
  }

  @Test
  void eachGreenListHasExactlyFloorVGammaTokens() {
    WatermarkDetector d = new WatermarkDetector(1000, 0.3, 42L);
    for (int previous : new int[] {0, 1, 77, 999}) {
      int green = 0;
      for (int t = 0; t < 1000; t++) {
        green += d.isGreen(t, previous) ? 1 : 0;
      }
      assertThat(green).isEqualTo(300);
    }
  }

  @Test
  void repeatedBigramsCanBeScoredOnce() {
    WatermarkDetector d = new WatermarkDetector(50, 0.5, 3L);
    int[] loop = {1, 2, 1, 2, 1, 2, 1, 2};
    assertThat(d.detect(loop, null, false).scored()).isEqualTo(7);
    assertThat(d.detect(loop, null, true).scored()).isEqualTo(2);
    assertThat(d.detect(loop, 9, false).scored()).isEqualTo(8);
  }

  @Test
  void upperTailOfTheNormal() {
    assertThat(WatermarkDetector.upperTail(0)).isCloseTo(0.5, within(1e-7));
    assertThat(WatermarkDetector.upperTail(1.959964)).isCloseTo(0.025, within(1e-6));
    assertThat(WatermarkDetector.upperTail(4)).isCloseTo(3.167124e-5, within(1e-9));
    assertThat(WatermarkDetector.upperTail(-3)).isCloseTo(0.9986501, within(1e-6));
  }

  @Test
  void theCommandReadsTokensAndPrintsAVerdict() {
    StringWriter out = new StringWriter();
    int status = new CommandLine(new TallyCommand()).setOut(new PrintWriter(out))
        .execute("watermark-detect", "--vocab-size", "100", "1,2", "3", "[4, 5]");
    assertThat(status).isZero();
    assertThat(out.toString()).contains("tokens scored:  4").contains("z-score:")
        .contains("verdict:        no watermark detected");
    StringWriter err = new StringWriter();
    status = new CommandLine(new TallyCommand()).setErr(new PrintWriter(err))
        .execute("watermark-detect", "--vocab-size", "10", "1", "12");
    assertThat(status).isEqualTo(2);
    assertThat(err.toString()).contains("outside the vocabulary of 10");
  }
}
