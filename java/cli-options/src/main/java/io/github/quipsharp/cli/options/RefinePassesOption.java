package io.github.quipsharp.cli.options;

import io.github.quipsharp.QuantConfig;
import picocli.CommandLine.Option;

/** --refine-passes, of the commands that round with BlockLDLQ (quantize, quantize-matrix). */
public final class RefinePassesOption {
  @Option(names = "--refine-passes", defaultValue = "" + QuantConfig.DEFAULT_REFINE_PASSES,
      description = "BlockLDLQ refinement passes (default: ${DEFAULT-VALUE}).")
  private int refinePasses;

  /** The passes given, checked (0 or more). */
  public int value() {
    FlagChecks.atLeast("--refine-passes", refinePasses, 0);
    return refinePasses;
  }
}
