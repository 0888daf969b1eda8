package io.github.quipsharp.cli.options;

import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.Rounding;
import java.util.Locale;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The quantization settings of a whole-model run, one flag per {@link QuantConfig} setting: the
 * same declaration for {@code quipsharp quantize} and {@code quipsharp-spark quantize}.
 */
public final class QuantizationOptions {
  /** The values of --rounding, as the command line spells them. */
  public enum RoundingChoice {
    ldlq,
    nearest
  }

  @Option(names = "--bits", required = true, description = "Bits per weight: 2, 3 or 4.")
  private int bits;

  @Option(names = "--seed", defaultValue = "0",
      description = "Seed of the sign vectors (each layer group derives its own; default: ${DEFAULT-VALUE}).")
  private long seed;

  @Option(names = "--rounding", defaultValue = "ldlq",
      description = "ldlq (BlockLDLQ, QuIP#) or nearest (default: ${DEFAULT-VALUE}).")
  private RoundingChoice rounding;

  @Mixin private RefinePassesOption refinePasses;

  @Option(names = "--no-rht", description = "Skip the randomized Hadamard transform (ablation).")
  private boolean noRht;

  @Option(names = "--damping", defaultValue = "" + QuantConfig.DEFAULT_DAMPING,
      description = "Relative damping of each Hessian before rounding (QUIPSHARP.md §1.3): "
          + "H / mean(diag H) + damping * I (default: ${DEFAULT-VALUE}).")
  private double damping;

  @Option(names = "--scale", defaultValue = "0",
      description = "Codebook scale rho (0: the codebook's own, 1.03 at 2 and 4 bits, 0.98 at 3 "
          + "bits; default: ${DEFAULT-VALUE}).")
  private double scale;

  @Option(names = "--residual-scale", defaultValue = "0",
      description = "Scale rho2 of the residual codebook at 3 and 4 bits (0: its own, 2.04 at 3 "
          + "bits, 3.45 at 4 bits; default: ${DEFAULT-VALUE}).")
  private double residualScale;

  /** The settings given, checked with the flags' names; nearest rounding has no refine passes. */
  public QuantConfig config() {
    FlagChecks.oneOf("--bits", bits, 2, 3, 4);
    int passes = refinePasses.value();
    FlagChecks.finiteAtLeast("--damping", damping, 0);
    FlagChecks.finiteAtLeast("--scale", scale, 0);
    FlagChecks.finiteAtLeast("--residual-scale", residualScale, 0);
    return QuantConfig.builder()
        .bits(bits)
        .seed(seed)
        .rounding(rounding == RoundingChoice.nearest ? Rounding.NEAREST : Rounding.BLOCK_LDLQ)
        .refinePasses(rounding == RoundingChoice.nearest ? 0 : passes)
        .incoherence(!noRht)
        .damping(damping)
        .scale(scale)
        .residualScale(residualScale)
        .build();
  }

  /** --seed (fine-tuning seeds its window order with it too). */
  public long seed() {
    return seed;
  }

  /**
   * How a run's header names the settings beside the bits: the rounding, then each setting away
   * from its default ("ldlq", "nearest, no RHT, damping 0.1").
   */
  public String describe() {
    StringBuilder s = new StringBuilder(rounding.name());
    if (noRht) {
      s.append(", no RHT");
    }
    if (damping != QuantConfig.DEFAULT_DAMPING) {
      s.append(String.format(Locale.ROOT, ", damping %s", damping));
    }
    if (scale != 0) {
      s.append(String.format(Locale.ROOT, ", scale %s", scale));
    }
    if (residualScale != 0) {
      s.append(String.format(Locale.ROOT, ", residual scale %s", residualScale));
    }
    return s.toString();
  }
}
