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
      FinetuneCommand.class,
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
    // libtorch allocates outside JavaCPP's accounting; without this JavaCPP's physical-memory
    // limit would throw OutOfMemoryError while fine-tuning (ARCHITECTURE.md). Read once, when
    // JavaCPP's Pointer class loads, which has not happened yet here.
    if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null) {
      System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
    }
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
              || ex instanceof io.github.quipsharp.finetune.FineTuneException
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
