package io.github.quipsharp.cli.options;

import io.github.quipsharp.CalibrationSplit;
import picocli.CommandLine.Option;

/**
 * --calibration-fraction, of the commands that split a text into its calibration part and the
 * held-out rest (quantize, finetune, ppl --heldout): the same split in each.
 */
public final class CalibrationFractionOption {
  @Option(names = "--calibration-fraction", defaultValue = "" + CalibrationSplit.DEFAULT_FRACTION,
      description = "Fraction of the text's tokens used for calibration; `ppl --heldout` evaluates "
          + "the rest (default: ${DEFAULT-VALUE}).")
  private double fraction;

  /** The fraction given, checked: in (0, 1). */
  public double value() {
    FlagChecks.between("--calibration-fraction", fraction, 0, 1, false);
    return fraction;
  }

  /** The calibration part of a text's tokens (its first --calibration-fraction). */
  public int[] calibrationPart(int[] tokens) {
    return CalibrationSplit.calibration(tokens, value());
  }

  /** The held-out part of a text's tokens (what follows the calibration part). */
  public int[] heldoutPart(int[] tokens) {
    return CalibrationSplit.heldout(tokens, value());
  }
}
