package io.github.quipsharp.cli.options;

import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The calibration text of a quantization run and how it is cut into windows: the same declaration
 * for {@code quipsharp quantize} and {@code quipsharp-spark quantize}.
 */
public final class CalibrationOptions {
  @Option(names = "--calibration", required = true,
      description = "UTF-8 text file; its first --calibration-fraction of tokens give the Hessians.")
  private String calibration;

  @Mixin private CalibrationFractionOption fraction;

  @Mixin private WindowOption ctx;

  @Option(names = "--samples", defaultValue = "0",
      description = "Calibration windows to use (default: all that fit, ${DEFAULT-VALUE} = all).")
  private int samples;

  @Mixin private ContextLengthOption context;

  /** Checks the values given, naming the flags. */
  public void validate() {
    FlagChecks.atLeast("--samples", samples, 0);
    ctx();
    fraction.value();
  }

  /** --calibration as given (a local path, or for Spark a URI). */
  public String location() {
    return calibration;
  }

  /** --calibration as a local path. */
  public Path file() {
    return FlagChecks.localPath("--calibration", calibration);
  }

  /** The calibration part of the text's tokens (its first --calibration-fraction). */
  public int[] calibrationPart(int[] tokens) {
    return fraction.calibrationPart(tokens);
  }

  /** --calibration-fraction, checked. */
  public double fraction() {
    return fraction.value();
  }

  /** --ctx, checked: a window of at least 2 tokens. */
  public int ctx() {
    return ctx.value(2);
  }

  /** Windows to use; 0 = all that fit. */
  public int samples() {
    return samples;
  }

  /** --allow-longer-context. */
  public ContextLengthOption context() {
    return context;
  }
}
