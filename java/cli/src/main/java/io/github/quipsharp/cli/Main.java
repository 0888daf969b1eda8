package io.github.quipsharp.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code java -jar quipsharp.jar}. */
@Command(
    name = "quipsharp",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "QuIP# 2/3/4-bit quantization of LLM weights over a native C++ engine.",
    subcommands = {
      DemoCommand.class,
      QuantizeCommand.class,
      PplCommand.class,
      GenerateCommand.class,
      InspectCommand.class,
      SynthModelCommand.class,
      QuantizeMatrixCommand.class,
      BenchCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line on the standard streams and returns its exit code. */
  public static int run(String... args) {
    return run(
        new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args);
  }

  /** Runs the command line with the given output streams and returns its exit code. */
  public static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setExecutionExceptionHandler(
        (ex, commandLine, parseResult) -> {
          if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
              || ex instanceof io.github.quipsharp.QuipsharpException
              || ex instanceof java.io.UncheckedIOException || ex instanceof java.io.IOException) {
            commandLine.getErr().println("error: " + ex.getMessage());
            return 2;
          }
          throw ex;
        });
    return cli.execute(args);
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Prints the version of the jar. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"quipsharp " + (v == null ? "(development build)" : v)};
    }
  }
}
