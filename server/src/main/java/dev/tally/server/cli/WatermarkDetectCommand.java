package dev.tally.server.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

/**
 * {@code tally watermark-detect}: is this token sequence watermarked by the {@code watermark}
 * plugin? Prints the green count, the z-score, its one-sided p-value and a verdict. Offline: no
 * server needed, only the vocabulary size and the plugin's parameters.
 */
@Command(name = "watermark-detect", mixinStandardHelpOptions = true,
    description = {"Compute the watermark z-score of a token sequence (the watermark plugin's"
        + " green list).",
        "Token ids come as arguments, or on standard input (spaces, commas or newlines between)."})
final class WatermarkDetectCommand implements Callable<Integer> {
  @Parameters(paramLabel = "TOKEN", description = "The token ids, oldest first; '-' or none reads"
      + " standard input.")
  List<String> tokens = new ArrayList<>();

  @Option(names = "--vocab-size", required = true, paramLabel = "V",
      description = "The model's vocabulary size (logits.vocab_size when generating).")
  int vocabSize;

  @Option(names = "--gamma", paramLabel = "G",
      description = "The plugin's gamma (default: ${DEFAULT-VALUE}).")
  double gamma = 0.25;

  @Option(names = "--hash-key", paramLabel = "K",
      description = "The plugin's hash_key (default: ${DEFAULT-VALUE}).")
  long hashKey = 15485863L;

  @Option(names = "--context", paramLabel = "TOKEN",
      description = "The token before the first one (the prompt's last), so the first is scored too.")
  Integer context;

  @Option(names = "--ignore-repeated-bigrams",
      description = "Score each (previous, token) pair once, as HF's ignore_repeated_ngrams.")
  boolean ignoreRepeated;

  @Option(names = "--z-threshold", paramLabel = "Z",
      description = "The z-score above which the text counts as watermarked (default:"
          + " ${DEFAULT-VALUE}, as HF's WatermarkDetector).")
  double zThreshold = 3.0;

  @Option(names = "--json", description = "Print one JSON object instead of text.")
  boolean json;

  @Spec CommandSpec spec;

  java.io.InputStream in = System.in;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    int[] ids;
    try {
      ids = parse(tokens.isEmpty() || tokens.equals(List.of("-")) ? readAll() : tokens);
      WatermarkDetector.Result r = new WatermarkDetector(vocabSize, gamma, hashKey)
          .detect(ids, context, ignoreRepeated);
      boolean watermarked = r.scored() > 0 && r.z() > zThreshold;
      if (json) {
        out.printf(Locale.ROOT, "{\"scored\": %d, \"green\": %d, \"green_fraction\": %.6f,"
            + " \"gamma\": %s, \"z_score\": %.6f, \"p_value\": %.6g, \"watermarked\": %s}%n",
            r.scored(), r.green(), r.greenFraction(), gamma, r.z(), r.pValue(), watermarked);
      } else {
        out.printf(Locale.ROOT, "tokens scored:  %d%n", r.scored());
        out.printf(Locale.ROOT, "green tokens:   %d (%.1f%%, %.1f%% expected without watermark)%n",
            r.green(), 100 * r.greenFraction(), 100 * gamma);
        out.printf(Locale.ROOT, "z-score:        %.3f%n", r.z());
        out.printf(Locale.ROOT, "p-value:        %.3g%n", r.pValue());
        out.printf(Locale.ROOT, "verdict:        %s (threshold z > %s)%n",
            watermarked ? "watermarked" : "no watermark detected", zThreshold);
      }
      out.flush();
      return 0;
    } catch (IllegalArgumentException e) {
      err.println("tally watermark-detect: " + e.getMessage());
      err.flush();
      return 2;
    }
  }

  private List<String> readAll() throws IOException {
    List<String> words = new ArrayList<>();
    BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    for (String line; (line = r.readLine()) != null; ) {
      words.add(line);
    }
    return words;
  }

  static int[] parse(List<String> words) {
    List<Integer> ids = new ArrayList<>();
    for (String w : words) {
      for (String part : w.split("[\\s,\\[\\]]+")) {
        if (part.isEmpty()) {
          continue;
        }
        try {
          ids.add(Integer.parseInt(part));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("'" + part + "' is not a token id");
        }
      }
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }
}
