package io.github.quipsharp.cli.options;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.Rounding;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine;

/**
 * The mixins of a quantization run: what they build from the flags (against {@link QuantConfig}'s
 * own builder and defaults), and that each bad value is one "error:" line naming the flag, exit 2,
 * before the command does anything.
 */
class QuantizeOptionsTest {
  /** A command made of the mixins alone; its body records that it ran past the checks. */
  @Command(name = "probe", mixinStandardHelpOptions = true)
  static final class Probe implements Callable<Integer> {
    @Mixin SourceModelOptions source;
    @Mixin QuantizationOptions quantization;
    @Mixin CalibrationOptions calibration;
    @Mixin RunFolderOptions output;
    @Mixin NativeThreadsOption threads;
    @Mixin ActivationBitsOption activationBits;

    QuantConfig config;
    boolean ran;

    @Override
    public Integer call() {
      config = quantization.config();
      calibration.validate();
      threads.value();
      activationBits.apply();
      source.path();
      ran = true;
      return 0;
    }
  }

  record Run(int code, String err, Probe probe) {}

  static final String[] REQUIRED = {"--model", "m", "--bits", "2", "--calibration", "c.txt",
      "--out", "o"};

  /** Runs the probe on {@link #REQUIRED} with {@code more}: a required flag in it replaces its value. */
  static Run run(String... more) {
    List<String> args = new ArrayList<>(List.of(REQUIRED));
    for (int i = 0; i < more.length; i++) {
      int at = args.indexOf(more[i]);
      if (at >= 0 && i + 1 < more.length) {
        args.set(at + 1, more[++i]);
      } else {
        args.add(more[i]);
      }
    }
    Probe p = new Probe();
    CommandLine cli = new CommandLine(p);
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(new StringWriter(), true));
    cli.setErr(new PrintWriter(err, true));
    OneLineErrors.standard().installOn(cli);
    return new Run(cli.execute(args.toArray(String[]::new)), err.toString(), p);
  }

  /** Runs a refused command line: exit 2, one line "error: ..." holding each fragment, no run. */
  static void refused(String[] args, String... fragments) {
    Run r = run(args);
    assertEquals(2, r.code(), r.err());
    String err = r.err().strip();
    assertEquals(1, err.lines().count(), err);
    assertTrue(err.startsWith("error: "), err);
    for (String f : fragments) {
      assertTrue(err.contains(f), "'" + f + "' in " + err);
    }
    assertTrue(!r.probe().ran, "the command ran past its checks");
  }

  @Test
  void theDefaultsAreTheLibrarysDefaults() {
    Run r = run();
    assertEquals(0, r.code(), r.err());
    assertEquals(QuantConfig.builder().bits(2).build(), r.probe().config);
    CalibrationOptions c = r.probe().calibration;
    assertEquals(256, c.ctx());
    assertEquals(0, c.samples());
    assertEquals(io.github.quipsharp.CalibrationSplit.DEFAULT_FRACTION, c.fraction());
    assertTrue(!c.context().allowed());
    assertTrue(!r.probe().output.resume());
    assertNull(r.probe().source.tokenizer().location());
    assertNull(r.probe().threads.value());
    assertEquals("ldlq", r.probe().quantization.describe());
  }

  @Test
  void everySettingReachesTheQuantConfig() {
    Run r = run("--bits", "4", "--seed", "-7", "--refine-passes", "3", "--no-rht", "--damping",
        "0.05", "--scale", "1.1", "--residual-scale", "3.0");
    assertEquals(0, r.code(), r.err());
    assertEquals(QuantConfig.builder().bits(4).seed(-7).rounding(Rounding.BLOCK_LDLQ)
        .refinePasses(3).incoherence(false).damping(0.05).scale(1.1).residualScale(3.0).build(),
        r.probe().config);
    assertEquals("ldlq, no RHT, damping 0.05, scale 1.1, residual scale 3.0",
        r.probe().quantization.describe());
  }

  @Test
  void nearestRoundingHasNoRefinePasses() {
    Run r = run("--rounding", "nearest", "--refine-passes", "5");
    assertEquals(0, r.code(), r.err());
    assertEquals(QuantConfig.builder().bits(2).rounding(Rounding.NEAREST).refinePasses(0).build(),
        r.probe().config);
  }

  @Test
  void calibrationAndOutputFlagsAreReadAsGiven() {
    Run r = run("--ctx", "64", "--samples", "4", "--calibration-fraction", "0.5",
        "--allow-longer-context", "--resume", "--tokenizer", "t.json", "--threads", "3");
    assertEquals(0, r.code(), r.err());
    Probe p = r.probe();
    assertEquals(64, p.calibration.ctx());
    assertEquals(4, p.calibration.samples());
    assertEquals(0.5, p.calibration.fraction());
    assertTrue(p.calibration.context().allowed());
    assertEquals(Path.of("c.txt"), p.calibration.file());
    assertTrue(p.output.resume());
    assertEquals(Path.of("o"), p.output.path());
    assertEquals(Path.of("m"), p.source.path());
    assertEquals(Path.of("t.json"), p.source.tokenizer().file());
    assertEquals(3, p.threads.value());
    // The first half of 10 tokens is the calibration part.
    assertEquals(5, p.calibration.calibrationPart(new int[10]).length);
  }

  @Test
  void sparkUrisPassThroughUnchanged() {
    // Path.of would turn hdfs://host/x into hdfs:/host/x: the location is the text given.
    Run r = run("--tokenizer", "hdfs://nn:8020/t.json");
    assertEquals(0, r.code(), r.err());
    assertEquals("hdfs://nn:8020/t.json", r.probe().source.tokenizer().location());
  }

  @Test
  void badValuesAreOneLineNamingTheFlag() {
    refused(new String[] {"--bits", "5"}, "--bits = 5 must be one of 2, 3, 4");
    refused(new String[] {"--refine-passes", "-1"}, "--refine-passes = -1 must be >= 0");
    refused(new String[] {"--damping", "-0.1"}, "--damping = -0.1", "finite number >= 0");
    refused(new String[] {"--damping", "NaN"}, "--damping = NaN");
    refused(new String[] {"--scale", "Infinity"}, "--scale = Infinity", "finite");
    refused(new String[] {"--residual-scale", "-1"}, "--residual-scale = -1.0");
    refused(new String[] {"--ctx", "1"}, "--ctx = 1 must be >= 2");
    refused(new String[] {"--samples", "-1"}, "--samples = -1 must be >= 0");
    refused(new String[] {"--calibration-fraction", "1"}, "--calibration-fraction = 1.0",
        "(0, 1)");
    refused(new String[] {"--threads", "0"}, "--threads = 0 must be >= 1");
    refused(new String[] {"--threads", "257"}, "--threads = 257 must be <= 256");
    refused(new String[] {"--activation-bits", "9"}, "--activation-bits = 9 must be one of 8, 16");
    refused(new String[] {"--model", "a\0b"}, "--model", "is not a valid path");
    // Values picocli cannot convert: the same one line, with a pointer to the help.
    refused(new String[] {"--rounding", "bogus"}, "--rounding", "bogus", "(see probe --help)");
    refused(new String[] {"--seed", "abc"}, "--seed", "abc", "(see probe --help)");
  }

  @Test
  void aMissingRequiredFlagIsOneLine() {
    Probe p = new Probe();
    CommandLine cli = OneLineErrors.standard().installOn(new CommandLine(p));
    StringWriter err = new StringWriter();
    cli.setErr(new PrintWriter(err, true));
    assertEquals(2, cli.execute("--model", "m", "--calibration", "c", "--out", "o"));
    assertEquals(1, err.toString().strip().lines().count(), err.toString());
    assertTrue(err.toString().startsWith("error: Missing required option: '--bits=<bits>'"),
        err.toString());
  }
}
