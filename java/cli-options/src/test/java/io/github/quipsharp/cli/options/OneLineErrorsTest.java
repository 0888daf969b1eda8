package io.github.quipsharp.cli.options;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.ModelFormatException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.AccessDeniedException;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** Each kind of failure of a command: the one line it prints and the exit code. */
class OneLineErrorsTest {
  static final class Custom extends RuntimeException {
    Custom(String message) {
      super(message);
    }
  }

  @Command(name = "fail")
  static final class Fail implements Callable<Integer> {
    final Exception thrown;

    Fail(Exception thrown) {
      this.thrown = thrown;
    }

    @Override
    public Integer call() throws Exception {
      throw thrown;
    }
  }

  record Result(int code, String err) {}

  static Result run(OneLineErrors errors, Exception thrown) {
    CommandLine cli = errors.installOn(new CommandLine(new Fail(thrown)));
    StringWriter err = new StringWriter();
    cli.setErr(new PrintWriter(err, true));
    int code = cli.execute();
    return new Result(code, err.toString());
  }

  static void assertLine(Result r, int code, String line) {
    assertEquals(code, r.code(), r.err());
    assertEquals(line + System.lineSeparator(), r.err());
  }

  @Test
  void errorsOfTheInputAreTheirMessageOnOneLineWithExitCode2() {
    assertLine(run(OneLineErrors.standard(), new IllegalArgumentException("--x 3 is bad")), 2,
        "error: --x 3 is bad");
    assertLine(run(OneLineErrors.standard(), new IllegalStateException("first\n  second\r\nthird")),
        2, "error: first; second; third");
    assertLine(run(OneLineErrors.standard(), new ModelFormatException(java.nio.file.Path.of("config.json"), "no dim")), 2,
        "error: config.json: no dim");
    assertLine(run(OneLineErrors.standard(), new AccessDeniedException("/x/y")), 2,
        "error: input/output failed: permission denied (/x/y)");
  }

  @Test
  void addedTypesTakeTheirRule() {
    OneLineErrors e = OneLineErrors.standard().inputError(Custom.class);
    assertLine(run(e, new Custom("a bad setting")), 2, "error: a bad setting");
    e = OneLineErrors.standard().inputError(Custom.class, c -> "--ctx: " + c.getMessage());
    assertLine(run(e, new Custom("too long")), 2, "error: --ctx: too long");
    e = OneLineErrors.standard().failure(Custom.class, c -> "the job failed: " + c.getMessage());
    assertLine(run(e, new Custom("task 3 lost")), 1, "error: the job failed: task 3 lost");
    // A failure rule for a type that the standard rules also match wins over them.
    e = OneLineErrors.standard().failure(IOException.class, c -> "cluster I/O: " + c.getMessage());
    assertLine(run(e, new IOException("connection reset")), 1, "error: cluster I/O: connection reset");
  }

  @Test
  void anythingElseIsAnInternalErrorWithExitCode1() {
    Result r = run(OneLineErrors.standard(), new UnsupportedOperationException("not here"));
    assertEquals(1, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().startsWith("error: internal error: java.lang.UnsupportedOperationException: "
        + "not here (please report it; QUIPSHARP_DEBUG=1 prints the stack trace)"), r.err());
    assertEquals("(no message)", OneLineErrors.oneLine(null));
  }
}
