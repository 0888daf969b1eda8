package io.github.quipsharp.spark;

import io.github.quipsharp.ContextTooLongException;
import io.github.quipsharp.InterruptedRunException;
import io.github.quipsharp.OutputFolderException;
import io.github.quipsharp.ResumeMismatchException;
import io.github.quipsharp.internal.SettingsDiff;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of {@code java -jar quipsharp-spark-local.jar} and of {@code spark-submit --class
 * io.github.quipsharp.spark.SparkQuantize quipsharp-spark.jar}: the {@code quantize} command.
 */
@Command(
    name = "quipsharp-spark",
    mixinStandardHelpOptions = true,
    description = "QuIP# whole-model quantization scaled out on Apache Spark.",
    subcommands = {QuantizeCommand.class, CommandLine.HelpCommand.class})
public final class SparkQuantize implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
  }

  /** Runs the command line with these streams; returns the exit code (2: bad input, 1: failed). */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    return run(out, err, false, args);
  }

  static int run(PrintWriter out, PrintWriter err, boolean keepPartial, String... args) {
    CommandLine cli = new CommandLine(new SparkQuantize());
    cli.setOut(out);
    cli.setErr(err);
    if (keepPartial) {
      ((QuantizeCommand) cli.getSubcommands().get("quantize").getCommand()).keepPartial = true;
    }
    cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      String typed = flagMessage(ex);
      if (typed != null) {
        commandLine.getErr().println("error: " + typed);
        return 2;
      }
      if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
          || ex instanceof io.github.quipsharp.QuipsharpException
          || ex instanceof java.io.UncheckedIOException || ex instanceof java.io.IOException) {
        commandLine.getErr().println("error: " + ex.getMessage());
        return 2;
      }
      if (ex instanceof org.apache.spark.SparkException) {
        commandLine.getErr().println("error: the Spark job failed: "
            + String.valueOf(ex.getMessage()).lines().findFirst().orElse(""));
        return 1;
      }
      throw ex;
    });
    return cli.execute(args);
  }

  /**
   * The command's wording of the core's typed errors (the core names facts, the command its
   * flags); null for any other exception.
   */
  static String flagMessage(Throwable e) {
    if (e instanceof OutputFolderException o) {
      return o.describe("--out");
    }
    if (e instanceof InterruptedRunException r) {
      return r.folder() + " holds an interrupted run; pass --resume to continue it, choose another "
          + "--out, or delete " + r.folder() + " to start over";
    }
    if (e instanceof ResumeMismatchException r) {
      return r.message(SettingsDiff.describeWithFlags(r.differences()));
    }
    if (e instanceof ContextTooLongException c) {
      return "--ctx " + c.length() + " exceeds the model's context length " + c.contextLength()
          + " (max_position_embeddings); use at most " + c.contextLength()
          + ", or --allow-longer-context to run past it anyway";
    }
    return null;
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
