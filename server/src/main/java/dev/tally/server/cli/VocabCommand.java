package dev.tally.server.cli;

import com.google.protobuf.UnsafeByteOperations;
import dev.tally.api.v1.ListVocabulariesRequest;
import dev.tally.api.v1.RegisterVocabularyRequest;
import dev.tally.api.v1.RegisterVocabularyResponse;
import dev.tally.api.v1.SamplerGrpc;
import dev.tally.api.v1.Vocabulary;
import dev.tally.server.vocab.DecodedVocabulary;
import dev.tally.server.vocab.TokenizerFormatException;
import dev.tally.server.vocab.TokenizerJson;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tally vocab}: register a model's vocabulary from its tokenizer.json, list them. */
@Command(name = "vocab", mixinStandardHelpOptions = true,
    description = "Register vocabularies with a running server, or list them.",
    subcommands = {VocabCommand.Import.class, VocabCommand.ListCommand.class})
final class VocabCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** The server's refusal, on one line: exit 1. */
  static int rpcFailed(PrintWriter err, String command, String target, StatusRuntimeException e) {
    String description = e.getStatus().getDescription();
    err.println("tally vocab " + command + ": " + target + ": " + e.getStatus().getCode() + " "
        + (description == null ? "" : description));
    err.flush();
    return 1;
  }

  /** {@code tally vocab import tokenizer.json --name NAME [--eos TOKEN]...}. */
  @Command(name = "import", mixinStandardHelpOptions = true,
      description = "Decode a Hugging Face tokenizer.json (byte-level BPE, SentencePiece) into"
          + " token bytes and register it (RegisterVocabulary).")
  static final class Import implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "TOKENIZER_JSON", description = "The tokenizer.json.")
    Path file;

    @Option(names = "--name", required = true, paramLabel = "NAME",
        description = "The name requests use (SamplingParams.vocabulary), e.g. llama-3.")
    String name;

    @Option(names = "--eos", paramLabel = "TOKEN", split = ",",
        description = "End-of-sequence tokens, as token strings (<|eot_id|>) or ids; repeatable.")
    List<String> eos = new ArrayList<>();

    @Option(names = "--target", paramLabel = "ADDRESS",
        description = "The server: HOST:PORT or unix:PATH (default: ${DEFAULT-VALUE}).")
    String target = "127.0.0.1:50051";

    @Spec CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      long start = System.nanoTime();
      DecodedVocabulary decoded;
      int[] eosIds;
      try {
        decoded = TokenizerJson.read(file);
        eosIds = eosIds(decoded);
      } catch (TokenizerFormatException e) { // its message names the file
        return fail(err, e.getMessage());
      } catch (IOException e) {
        return fail(err, file + ": cannot read it (" + e.getClass().getSimpleName() + ")");
      } catch (IllegalArgumentException e) {
        return fail(err, file + ": " + e.getMessage());
      }
      long decodedAt = System.nanoTime();
      RegisterVocabularyRequest.Builder request = RegisterVocabularyRequest.newBuilder()
          .setName(name)
          .setTokenBytes(UnsafeByteOperations.unsafeWrap(decoded.packedBytes()));
      for (int length : decoded.lengths()) {
        request.addTokenLengths(length);
      }
      for (int id : decoded.specialTokenIds()) {
        request.addSpecialTokenIds(id);
      }
      for (int id : eosIds) {
        request.addEosTokenIds(id);
      }
      RegisterVocabularyResponse response;
      try (Target t = Target.connect(target)) {
        response = SamplerGrpc.newBlockingStub(t.channel).withDeadlineAfter(30, TimeUnit.SECONDS)
            .registerVocabulary(request.build());
      } catch (StatusRuntimeException e) {
        return rpcFailed(err, "import", target, e);
      } catch (IllegalArgumentException e) { // a bad --target
        return fail(err, e.getMessage());
      }
      long done = System.nanoTime();
      Vocabulary v = response.getVocabulary();
      out.printf(Locale.ROOT, "%s '%s': %d tokens (%s), %d special, EOS %s, %s of token bytes,"
          + " fingerprint %s; decoded in %d ms, registered in %d ms%n",
          response.getCreated() ? "registered" : "already registered", v.getName(), v.getSize(),
          decoded.kind(), v.getSpecialTokenIdsCount(), v.getEosTokenIdsList(),
          ListCommand.size(v.getTokenBytes()), v.getFingerprint().substring(0, 12),
          (decodedAt - start) / 1_000_000, (done - decodedAt) / 1_000_000);
      out.flush();
      return 0;
    }

    private static int fail(PrintWriter err, String message) {
      err.println("tally vocab import: " + message);
      err.flush();
      return 2;
    }

    private int[] eosIds(DecodedVocabulary decoded) {
      int[] ids = new int[eos.size()];
      for (int i = 0; i < ids.length; i++) {
        String token = eos.get(i);
        int id = decoded.idOf(token);
        if (id < 0 && token.matches("\\d+")) {
          id = Integer.parseInt(token);
        }
        if (id < 0 || id >= decoded.size()) {
          throw new IllegalArgumentException("--eos " + token + ": no such token in the"
              + " tokenizer (give a token string such as <|eot_id|>, or an id below "
              + decoded.size() + ")");
        }
        ids[i] = id;
      }
      return ids;
    }
  }

  /** {@code tally vocab list}. */
  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "Print the vocabularies a running server holds (ListVocabularies).")
  static final class ListCommand implements Callable<Integer> {
    @Option(names = "--target", paramLabel = "ADDRESS",
        description = "The server: HOST:PORT or unix:PATH (default: ${DEFAULT-VALUE}).")
    String target = "127.0.0.1:50051";

    @Spec CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      List<Vocabulary> vocabularies;
      try (Target t = Target.connect(target)) {
        vocabularies = SamplerGrpc.newBlockingStub(t.channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .listVocabularies(ListVocabulariesRequest.getDefaultInstance())
            .getVocabulariesList();
      } catch (StatusRuntimeException e) {
        return rpcFailed(err, "list", target, e);
      } catch (IllegalArgumentException e) { // a bad --target
        err.println("tally vocab list: " + e.getMessage());
        err.flush();
        return 2;
      }
      out.printf(Locale.ROOT, "%-32s %8s %8s %-16s %10s  %s%n", "NAME", "TOKENS", "SPECIAL",
          "EOS", "BYTES", "FINGERPRINT");
      for (Vocabulary v : vocabularies) {
        out.printf(Locale.ROOT, "%-32s %8d %8d %-16s %10s  %s%n", v.getName(), v.getSize(),
            v.getSpecialTokenIdsCount(), v.getEosTokenIdsList(), size(v.getTokenBytes()),
            v.getFingerprint().substring(0, 12));
      }
      out.flush();
      return 0;
    }

    static String size(long bytes) {
      return bytes < 10_000 ? bytes + " B" : bytes < 10_000_000
          ? String.format(Locale.ROOT, "%.1f kB", bytes / 1e3)
          : String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
  }
}
