package io.github.quipsharp.cli;

import io.github.quipsharp.finetune.FineTuneException;
import io.github.quipsharp.finetune.InterruptedFineTuningException;

/**
 * The command line's wording of fine-tuning's typed errors: the library names its settings
 * ({@code FineTuneOptions.lr}), the command line the flags that set them ({@link FineTuneFlags}).
 */
final class FineTuneErrorMessages {
  private FineTuneErrorMessages() {}

  /** The one-line message of {@code e} with its remedy in flags. */
  static String of(FineTuneException e) {
    String d = e.detail();
    return switch (e.remedy()) {
      case NONE -> d;
      case LOWER_LEARNING_RATE -> d + "; run again with a lower --ft-lr";
      case LOWER_LEARNING_RATE_IN_A_NEW_RUN -> d + ". Quantization stopped; run it again with a "
          + "lower --ft-lr in a new --out (another learning rate cannot --resume this run)";
      case LOWER_BOTH_LEARNING_RATES -> d + "; set --ft-lr and --ft-sign-lr lower";
      case USE_THE_CPU_DEVICE -> "--ft-device cuda: " + d + "; use --ft-device cpu, or build with "
          + "-Ptorch-cuda on a machine with an NVIDIA GPU";
    };
  }

  /** The one-line message of {@code e} naming --resume and --out. */
  static String of(InterruptedFineTuningException e) {
    return e.folder() + " holds an interrupted fine-tuning; pass --resume to continue it, or "
        + "choose another --out";
  }
}
