package io.github.quipsharp.cli.options;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.LoadOptions;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine;

/**
 * The mixins of the commands that read a model or a text in windows (ppl, generate, inspect,
 * finetune, quantize-matrix, bench): what they give, and their one-line refusals.
 */
class ReadingOptionsTest {
  @Command(name = "reader")
  static final class Reader implements Callable<Integer> {
    @Mixin ModelOption model;
    @Mixin VerificationOption verification;
    @Mixin WindowOption window;
    @Mixin CalibrationFractionOption fraction;
    @Mixin MatrixShapeOptions shape;

    int ctx;
    int[] shapeGiven;

    @Override
    public Integer call() {
      ctx = window.value(1);
      fraction.value();
      shapeGiven = new int[] {shape.rows(), shape.cols()};
      return 0;
    }
  }

  record Run(int code, String err, Reader reader) {}

  static Run run(String... args) {
    Reader r = new Reader();
    CommandLine cli = OneLineErrors.standard().installOn(new CommandLine(r));
    StringWriter err = new StringWriter();
    cli.setErr(new PrintWriter(err, true));
    return new Run(cli.execute(args), err.toString(), r);
  }

  @Test
  void theFlagsGiveWhatTheCommandsUse() {
    Run r = run("--model", "q", "--rows", "8", "--cols", "16", "--ctx", "1", "--no-verify",
        "--calibration-fraction", "0.6");
    assertEquals(0, r.code(), r.err());
    assertEquals(Path.of("q"), r.reader().model.path());
    assertEquals(1, r.reader().ctx);
    assertEquals(8, r.reader().shapeGiven[0]);
    assertEquals(16, r.reader().shapeGiven[1]);
    // 10 tokens: the first 6 calibrate, the last 4 are held out.
    int[] tokens = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    assertEquals(6, r.reader().fraction.calibrationPart(tokens).length);
    assertEquals(6, r.reader().fraction.heldoutPart(tokens)[0]);
    assertEquals(4, r.reader().fraction.heldoutPart(tokens).length);
    assertTrue(!r.reader().verification.verify());
  }

  @Test
  void loadWarningsAreOneLineOnTheErrorStream() {
    Run r = run("--model", "q", "--rows", "8", "--cols", "16");
    assertEquals(0, r.code(), r.err());
    StringWriter err = new StringWriter();
    LoadOptions o = r.reader().verification.loadOptions(new PrintWriter(err, true));
    assertTrue(o.verify());
    o.warnings().accept("no digests\n  in config.json");
    assertEquals("warning: no digests; in config.json" + System.lineSeparator(), err.toString());
  }

  static void refused(String expected, String... args) {
    Run r = run(args);
    assertEquals(2, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().startsWith("error: ") && r.err().contains(expected), r.err());
  }

  @Test
  void badValuesAreOneLineNamingTheFlag() {
    refused("--rows = 0 must be >= 1", "--model", "q", "--rows", "0", "--cols", "16");
    refused("--cols = -3 must be >= 1", "--model", "q", "--rows", "4", "--cols", "-3");
    refused("--ctx = 0 must be >= 1", "--model", "q", "--rows", "4", "--cols", "4", "--ctx", "0");
    refused("--calibration-fraction = 1.5 must be in (0, 1)", "--model", "q", "--rows", "4",
        "--cols", "4", "--calibration-fraction", "1.5");
    refused("Missing required option: '--model=<model>'", "--rows", "4", "--cols", "4");
  }
}
