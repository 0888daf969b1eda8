package io.github.quipsharp.cli;

import io.github.quipsharp.cli.options.OneLineErrors;
import io.github.quipsharp.finetune.FineTuneException;
import io.github.quipsharp.finetune.InterruptedFineTuningException;
import picocli.CommandLine.Command;
import picocli.CommandLine;

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

  /**
   * Runs the command line with the given output streams and returns its exit code: 0, 2 for an
   * error of the input (one line on err starting "error: "), 1 for an internal error (also one
   * line; QUIPSHARP_DEBUG=1 adds the stack trace): {@link OneLineErrors}, with fine-tuning's
   * errors as errors of the input.
   */
  public static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    errors().installOn(cli);
    try {
      return cli.execute(args);
    } catch (OutOfMemoryError e) {
      err.println("error: " + outOfMemory(args.length > 0 ? args[0] : ""));
      err.flush();
      return OneLineErrors.INPUT_ERROR;
    }
  }

  /**
   * The one-line errors of this command line: the shared rules, and fine-tuning's errors as
   * errors of the input, worded with the {@code --ft-*}, {@code --out} and {@code --resume} flags.
   */
  static OneLineErrors errors() {
    return OneLineErrors.standard()
        .inputError(FineTuneException.class, FineTuneErrorMessages::of)
        .inputError(InterruptedFineTuningException.class, FineTuneErrorMessages::of);
  }

  /** The message of an out-of-memory error: the heap there was and what to lower. */
  static String outOfMemory(String command) {
    String lower = switch (command) {
      case "quantize" -> "--samples or --ctx (the Hessian collection), --ft-batch or "
          + "--ft-windows (fine-tuning)";
      case "ppl" -> "--ctx or --max-tokens, or evaluate a shorter --text";
      case "generate" -> "--max-tokens or the prompt";
      case "finetune", "demo" -> "--ft-batch, --ft-windows or --ctx";
      case "quantize-matrix", "bench" -> "--rows / --cols";
      default -> "the sizes given";
    };
    long heap = Runtime.getRuntime().maxMemory();
    String size = heap >= 1L << 30
        ? String.format(java.util.Locale.ROOT, "%.1f GiB", heap / (double) (1L << 30))
        : (heap >> 20) + " MiB";
    return "out of memory (the Java heap holds at most " + size + "): lower " + lower
        + ", or give Java more heap (java -Xmx<size> -jar quipsharp.jar ...)";
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
