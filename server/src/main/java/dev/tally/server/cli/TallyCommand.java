package dev.tally.server.cli;

import dev.tally.core.TallyVersion;
import dev.tally.server.demo.DemoCommand;
import dev.tally.server.loadgen.BenchCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code tally}: the launcher's entry point. */
@Command(
    name = "tally",
    mixinStandardHelpOptions = true,
    versionProvider = TallyCommand.Version.class,
    description = "Tally: a gRPC sampling sidecar for LLM model servers.",
    subcommands = {ServeCommand.class, ProcessorsCommand.class, WatermarkDetectCommand.class,
        DemoCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class TallyCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    Logging.configure();
    System.exit(new CommandLine(new TallyCommand()).execute(args));
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** {@code tally --version}. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {
        "tally " + TallyVersion.get(),
        "JVM: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version")
      };
    }
  }
}
