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
    subcommands = {ServeCommand.class, HealthCommand.class, ProcessorsCommand.class,
        VocabCommand.class, WatermarkDetectCommand.class,
        DemoCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class TallyCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    Logging.configure();
    System.exit(execute(args, System.getenv()));
  }

  /**
   * Runs the CLI with this environment: {@code serve} takes options the command line leaves out
   * from {@code TALLY_*} variables, then from its config file ({@link ConfigDefaults}).
   */
  static int execute(String[] args, java.util.Map<String, String> env) {
    CommandLine cli = new CommandLine(new TallyCommand());
    CommandLine serve = cli.getSubcommands().get("serve");
    // Only serve reads a config file: a stale $TALLY_CONFIG must not break `tally demo`.
    java.nio.file.Path file = java.util.List.of(args).contains("serve")
        ? ConfigDefaults.configFile(java.util.List.of(args), env) : null;
    ConfigDefaults defaults;
    try {
      defaults = new ConfigDefaults(env, file);
    } catch (java.io.IOException e) {
      System.err.println("tally serve: invalid configuration:\n  - --config: cannot read " + file
          + ": " + e.getMessage());
      return 2;
    }
    serve.setDefaultValueProvider(defaults);
    // Keep parsing past a bad value: ServeCommand reports every problem at once (config()).
    serve.getCommandSpec().parser().collectErrors(true);
    ServeCommand command = serve.getCommand();
    command.defaults = defaults;
    command.env = env;
    return cli.execute(args);
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
