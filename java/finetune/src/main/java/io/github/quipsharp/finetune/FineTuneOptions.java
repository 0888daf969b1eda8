package io.github.quipsharp.finetune;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Settings of one fine-tuning stage (QUIPSHARP.md §6.2 blockwise, §6.3 end-to-end): epochs, batch
 * (windows per optimiser step), Adam learning rates (sign vectors SU/SV have their own), early
 * stopping patience, the seed of the window order, how many calibration windows to use (0 = all)
 * and the fraction of them, taken from the end, that is the validation split.
 *
 * @param resume end-to-end only: continue an interrupted run from its saved state
 */
public record FineTuneOptions(int epochs, int batch, double lr, double signLr, int patience,
    long seed, int windows, double validFraction, boolean resume) {
  /** Blockwise (§6.2, paper F.6): 5 epochs, batch 8, lr 5e-5, SU/SV 5e-4, stop after 3 bad. */
  public static final FineTuneOptions BLOCK_DEFAULTS =
      new FineTuneOptions(5, 8, 5e-5, 5e-4, 3, 0, 0, 1.0 / 3, false);
  /**
   * End-to-end (§6.3, paper F.6 learning rates 5e-5 / SU/SV 5e-4; 5 epochs; batch 2 as in §6.5's
   * stories260K measurements, where batch 1 with accumulation 2 is the reference script's).
   */
  public static final FineTuneOptions E2E_DEFAULTS =
      new FineTuneOptions(5, 2, 5e-5, 5e-4, 3, 0, 0, 1.0 / 3, false);

  public FineTuneOptions {
    new Trainer.Settings(epochs, batch, lr, signLr, patience, seed); // validates
    if (windows < 0) {
      throw new IllegalArgumentException("windows = " + windows + " must be >= 0 (0 = all)");
    }
    if (!(validFraction > 0 && validFraction < 1)) {
      throw new IllegalArgumentException("validation fraction " + validFraction
          + " must be between 0 and 1");
    }
  }

  public FineTuneOptions withEpochs(int e) {
    return new FineTuneOptions(e, batch, lr, signLr, patience, seed, windows, validFraction, resume);
  }

  public FineTuneOptions withBatch(int b) {
    return new FineTuneOptions(epochs, b, lr, signLr, patience, seed, windows, validFraction, resume);
  }

  /** Both learning rates (the sign vectors' first). */
  public FineTuneOptions withLearningRates(double others, double signs) {
    return new FineTuneOptions(epochs, batch, others, signs, patience, seed, windows, validFraction,
        resume);
  }

  public FineTuneOptions withSeed(long s) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, s, windows, validFraction, resume);
  }

  public FineTuneOptions withWindows(int w) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, w, validFraction, resume);
  }

  public FineTuneOptions withResume(boolean r) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, windows, validFraction, r);
  }

  Trainer.Settings settings(long seedMix) {
    return new Trainer.Settings(epochs, batch, lr, signLr, patience, seed ^ seedMix);
  }

  /** The windows to use of the {@code available} ones. */
  int windowCount(int available) {
    return windows > 0 ? Math.min(windows, available) : available;
  }

  /** The validation windows: the last fraction, at least one, leaving at least one to train on. */
  int validCount(int n) {
    if (n < 2) {
      throw new IllegalArgumentException("fine-tuning needs at least 2 calibration windows (one to "
          + "train on, one to validate), have " + n + "; use more calibration text or a smaller --ctx");
    }
    return (int) Math.max(1, Math.min(n - 1, Math.round(n * validFraction)));
  }

  ObjectNode toJson() {
    ObjectNode o = settings(0).toJson();
    o.put("windows", windows);
    o.put("valid_fraction", validFraction);
    return o;
  }
}
