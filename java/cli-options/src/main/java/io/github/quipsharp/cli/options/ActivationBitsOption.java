package io.github.quipsharp.cli.options;

import io.github.quipsharp.ActivationPrecision;
import picocli.CommandLine.Option;

/** --activation-bits of the CPU codebook kernels, of the commands that run a quantized model. */
public final class ActivationBitsOption {
  @Option(names = "--activation-bits",
      description = "Integer precision of the rotated activation in the CPU codebook kernels: 8 or "
          + "16 (default: $QUIPSHARP_ACTIVATION_BITS, else 8; 16 is about half as fast on AVX-512).")
  private Integer activationBits;

  /** Sets the precision when --activation-bits is given (checked first: 8 or 16). */
  public void apply() {
    if (activationBits != null) {
      FlagChecks.oneOf("--activation-bits", activationBits, 8, 16);
      ActivationPrecision.set(activationBits);
    }
  }
}
