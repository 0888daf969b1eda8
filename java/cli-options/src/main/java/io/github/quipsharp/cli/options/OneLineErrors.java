package io.github.quipsharp.cli.options;

import io.github.quipsharp.QuipsharpException;
import io.github.quipsharp.internal.OutputFolders;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import picocli.CommandLine;

/**
 * How both command lines ({@code quipsharp}, {@code quipsharp-spark}) report what went wrong: one
 * line on stderr starting "error: ", and an exit code. A bad flag value or a missing flag is
 * {@value #INPUT_ERROR} with a pointer to the command's help; an error of the input found while
 * running (an {@link IllegalArgumentException}, {@link IllegalStateException}, {@link
 * QuipsharpException} or I/O error, and the types a command line adds with {@link #inputError}) is
 * {@value #INPUT_ERROR}; a failure a command line names with {@link #failure} is {@value #FAILURE};
 * anything else is an internal error, {@value #FAILURE}, with the stack trace only when
 * QUIPSHARP_DEBUG is set.
 */
public final class OneLineErrors {
  /** Exit code of an error of the input: a flag, a file, a model. */
  public static final int INPUT_ERROR = 2;
  /** Exit code of a failed run or an internal error. */
  public static final int FAILURE = 1;

  private record Rule(Class<? extends Throwable> type, Function<Throwable, String> message,
      int exitCode) {}

  /** Checked in order; the first whose type matches gives the line. */
  private final List<Rule> rules = new ArrayList<>();

  private OneLineErrors() {}

  /** The rules both command lines share. */
  public static OneLineErrors standard() {
    OneLineErrors e = new OneLineErrors();
    for (Class<? extends Throwable> t : List.of(IllegalArgumentException.class,
        IllegalStateException.class, QuipsharpException.class, UncheckedIOException.class)) {
      e.rules.add(new Rule(t, Throwable::getMessage, INPUT_ERROR));
    }
    e.rules.add(new Rule(IOException.class,
        x -> OutputFolders.describe("input/output failed", (IOException) x), INPUT_ERROR));
    // The core's typed errors name facts, not flags: worded here with the flags that change them
    // (ahead of IllegalArgumentException, which they extend).
    for (Class<? extends Throwable> t : CoreErrorMessages.TYPES) {
      e.rules.add(0, new Rule(t, CoreErrorMessages::of, INPUT_ERROR));
    }
    return e;
  }

  /** Errors of {@code type} are errors of the input: their message, exit code 2. */
  public OneLineErrors inputError(Class<? extends Throwable> type) {
    rules.add(0, new Rule(type, Throwable::getMessage, INPUT_ERROR));
    return this;
  }

  /**
   * Errors of {@code type} are errors of the input, told by {@code message} (e.g. a typed core
   * error in the words of the command line's flags), exit code 2.
   */
  public <T extends Throwable> OneLineErrors inputError(Class<T> type,
      Function<? super T, String> message) {
    rules.add(0, new Rule(type, x -> message.apply(type.cast(x)), INPUT_ERROR));
    return this;
  }

  /** Errors of {@code type} are failed runs: {@code message} of them, exit code 1. */
  public <T extends Throwable> OneLineErrors failure(Class<T> type,
      Function<? super T, String> message) {
    rules.add(0, new Rule(type, x -> message.apply(type.cast(x)), FAILURE));
    return this;
  }

  /**
   * The line (without "error: ") these rules give {@code e}: a typed core error in the words of
   * the flags, another error by its message. For a command that wraps an error in its own.
   */
  public String messageOf(Throwable e) {
    for (Rule r : rules) {
      if (r.type().isInstance(e)) {
        return oneLine(r.message().apply(e));
      }
    }
    return oneLine(e.getMessage());
  }

  /** Installs the handlers on {@code cli} (its subcommands included) and returns it. */
  public CommandLine installOn(CommandLine cli) {
    cli.setParameterExceptionHandler((ex, args) -> {
      CommandLine c = ex.getCommandLine();
      print(c.getErr(), oneLine(ex.getMessage()) + " (see " + c.getCommandSpec().qualifiedName()
          + " --help)");
      return INPUT_ERROR;
    });
    cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      PrintWriter err = commandLine.getErr();
      for (Rule r : rules) {
        if (r.type().isInstance(ex)) {
          print(err, oneLine(r.message().apply(ex)));
          return r.exitCode();
        }
      }
      print(err, "internal error: " + oneLine(String.valueOf(ex))
          + " (please report it; QUIPSHARP_DEBUG=1 prints the stack trace)");
      if (System.getenv("QUIPSHARP_DEBUG") != null) {
        ex.printStackTrace(err);
        err.flush();
      }
      return FAILURE;
    });
    return cli;
  }

  private static void print(PrintWriter err, String line) {
    err.println("error: " + line);
    err.flush();
  }

  /** A message on one line (Jackson, the JDK and picocli may put details on further lines). */
  public static String oneLine(String message) {
    if (message == null) {
      return "(no message)";
    }
    return message.strip().replaceAll("\\s*[\\r\\n]+\\s*", "; ");
  }
}
