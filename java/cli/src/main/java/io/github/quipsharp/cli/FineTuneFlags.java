package io.github.quipsharp.cli;

import io.github.quipsharp.finetune.FineTuneOptions;
import picocli.CommandLine.Option;

/** The fine-tuning flags shared by quantize and finetune. */
final class FineTuneFlags {
  @Option(names = "--ft-epochs",
      description = "Fine-tuning epochs per stage (default: 5; early stopping after 3 epochs "
          + "without a better validation loss).")
  Integer epochs;

  @Option(names = "--ft-lr",
      description = "Adam learning rate of norms, head and not-yet-quantized weights (default: "
          + "5e-5, paper F.6); the sign vectors SU/SV get 10x this unless --ft-sign-lr is given.")
  Double lr;

  @Option(names = "--ft-sign-lr",
      description = "Adam learning rate of the sign vectors SU/SV (default: 10 x --ft-lr, 5e-4).")
  Double signLr;

  @Option(names = "--ft-batch",
      description = "Windows per optimiser step (default: 8 blockwise, 2 end-to-end).")
  Integer batch;

  @Option(names = "--ft-windows",
      description = "Calibration windows used for fine-tuning (default: all; the last third "
          + "validates).")
  Integer windows;

  /** Checks the values given, naming the flags (FineTuneOptions names its fields). */
  void validate() {
    Flags.atLeast("--ft-epochs", epochs, 0);
    Flags.learningRate("--ft-lr", lr);
    Flags.learningRate("--ft-sign-lr", signLr);
    Flags.atLeast("--ft-batch", batch, 1);
    Flags.atLeast("--ft-windows", windows, 0);
  }

  /** The stage's defaults with the flags given applied. */
  FineTuneOptions apply(FineTuneOptions defaults, long seed, boolean resume) {
    validate();
    FineTuneOptions o = defaults.withSeed(seed).withResume(resume);
    if (epochs != null) {
      o = o.withEpochs(epochs);
    }
    if (lr != null || signLr != null) {
      double others = lr != null ? lr : o.lr();
      o = o.withLearningRates(others, signLr != null ? signLr : lr != null ? 10 * lr : o.signLr());
    }
    if (batch != null) {
      o = o.withBatch(batch);
    }
    if (windows != null) {
      o = o.withWindows(windows);
    }
    return o;
  }
}
