package io.github.quipsharp.spark;

import io.github.quipsharp.cli.options.OneLineErrors;
import java.io.PrintWriter;
import org.apache.spark.SparkException;
import picocli.CommandLine.Command;
import picocli.CommandLine;

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

  /**
   * Runs the command line with these streams; returns the exit code (2: bad input, 1: failed), with
   * the errors as one line each, as {@code quipsharp} prints them ({@link OneLineErrors}).
   */
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
    OneLineErrors.standard()
        .failure(SparkException.class, e -> "the Spark job failed: "
            + String.valueOf(e.getMessage()).lines().findFirst().orElse(""))
        .installOn(cli);
    return cli.execute(args);
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
