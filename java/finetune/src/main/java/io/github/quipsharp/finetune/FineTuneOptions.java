package io.github.quipsharp.finetune;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;

/**
 * Settings of one fine-tuning stage (QUIPSHARP.md §6.2 blockwise, §6.3 end-to-end): epochs, batch
 * (windows per optimiser step), Adam learning rates (sign vectors SU/SV have their own), early
 * stopping patience, the seed of the window order, how many calibration windows to use (0 = all)
 * and the fraction of them, taken from the end, that is the validation split.
 *
 * <p>Either learning rate may be "auto" ({@link #autoLr}, {@link #autoSignLr}): a short sweep
 * ({@link LearningRateSweep}) over {@link LearningRateSweep#MULTIPLIERS} times the value given
 * here picks it by the validation loss before training. {@code epochs} may be
 * {@link #AUTO_EPOCHS}: train until early stopping fires, or {@code budgetSeconds} of wall time
 * (0 = no limit) run out.
 *
 * @param resume end-to-end only: continue an interrupted run from its saved state
 * @param budgetSeconds wall time of the whole stage (sweep included); 0 = no limit
 * @param device where libtorch runs the tuning
 * @param precision how the decoded matrices are stored and multiplied
 * @param keepDecoded end-to-end only: decode every block once and keep them all (memory then grows
 *     with the layers: one block's share each) instead of decoding each block at every step; for
 *     devices with memory to spare, such as a GPU holding a 7B model's 13 GB of bfloat16 matrices
 */
public record FineTuneOptions(int epochs, int batch, double lr, double signLr, int patience,
    long seed, int windows, double validFraction, boolean resume, boolean autoLr,
    boolean autoSignLr, double budgetSeconds, Device device, Precision precision,
    boolean keepDecoded) {

  /** {@link #epochs} value: until early stopping or the budget (at most {@link #MAX_AUTO_EPOCHS}). */
  public static final int AUTO_EPOCHS = -1;
  /** A safety bound for {@link #AUTO_EPOCHS}; early stopping ends every run seen long before. */
  public static final int MAX_AUTO_EPOCHS = 500;

  /** Where the tuning runs. */
  public enum Device {
    CPU,
    /** The first CUDA device; needs the CUDA build of the PyTorch preset (Maven profile torch-cuda). */
    CUDA
  }

  /**
   * The decoded fixed matrices {@code A = M_m W̃ M_nᵀ} of the quantized groups: stored and
   * multiplied in fp32, or in bfloat16 (half the memory of one block's matrices; the activations
   * are rounded to bfloat16 for those products, everything else stays fp32).
   */
  public enum Precision {
    FP32,
    BF16
  }

  /** Blockwise (§6.2, paper F.6): 5 epochs, batch 8, lr 5e-5, SU/SV 5e-4, stop after 3 bad. */
  public static final FineTuneOptions BLOCK_DEFAULTS = new FineTuneOptions(5, 8, 5e-5, 5e-4, 3, 0,
      0, 1.0 / 3, false);
  /**
   * End-to-end (§6.3, paper F.6 learning rates 5e-5 / SU/SV 5e-4; 5 epochs; batch 2 as in §6.5's
   * stories260K measurements, where batch 1 with accumulation 2 is the reference script's).
   */
  public static final FineTuneOptions E2E_DEFAULTS = new FineTuneOptions(5, 2, 5e-5, 5e-4, 3, 0,
      0, 1.0 / 3, false);
  /**
   * The command line's blockwise defaults: both learning rates swept around the F.6 values, then
   * epochs until early stopping.
   */
  public static final FineTuneOptions BLOCK_AUTO = BLOCK_DEFAULTS.withAutoLearningRates(true, true)
      .withEpochs(AUTO_EPOCHS);
  /** The command line's end-to-end defaults (learning rates swept, epochs until early stopping). */
  public static final FineTuneOptions E2E_AUTO = E2E_DEFAULTS.withAutoLearningRates(true, true)
      .withEpochs(AUTO_EPOCHS);

  public FineTuneOptions {
    if (epochs < 0 && epochs != AUTO_EPOCHS) {
      throw new IllegalArgumentException("epochs = " + epochs + " must be >= 0 (or auto)");
    }
    new Trainer.Settings(Math.max(0, epochs), batch, lr, signLr, patience, seed, budgetSeconds);
    if (windows < 0) {
      throw new IllegalArgumentException("windows = " + windows + " must be >= 0 (0 = all)");
    }
    if (!(validFraction > 0 && validFraction < 1)) {
      throw new IllegalArgumentException("validation fraction " + validFraction
          + " must be between 0 and 1");
    }
    if (device == null || precision == null) {
      throw new IllegalArgumentException("device and precision must be given");
    }
  }

  /** Fixed learning rates and epochs, on the CPU in fp32, no budget (the settings before auto). */
  public FineTuneOptions(int epochs, int batch, double lr, double signLr, int patience, long seed,
      int windows, double validFraction, boolean resume) {
    this(epochs, batch, lr, signLr, patience, seed, windows, validFraction, resume, false, false, 0,
        Device.CPU, Precision.FP32, false);
  }

  public boolean autoEpochs() {
    return epochs == AUTO_EPOCHS;
  }

  /** Fixed epochs, or {@link #AUTO_EPOCHS}. */
  public FineTuneOptions withEpochs(int e) {
    return new FineTuneOptions(e, batch, lr, signLr, patience, seed, windows, validFraction, resume,
        autoLr, autoSignLr, budgetSeconds, device, precision, keepDecoded);
  }

  public FineTuneOptions withBatch(int b) {
    return new FineTuneOptions(epochs, b, lr, signLr, patience, seed, windows, validFraction, resume,
        autoLr, autoSignLr, budgetSeconds, device, precision, keepDecoded);
  }

  /** Both learning rates, fixed (the sign vectors' second). */
  public FineTuneOptions withLearningRates(double others, double signs) {
    return new FineTuneOptions(epochs, batch, others, signs, patience, seed, windows, validFraction,
        resume, false, false, budgetSeconds, device, precision, keepDecoded);
  }

  /**
   * Which learning rates the sweep chooses; the values set stay the centre of its grid (their
   * 1× point) and are used as they are where the flag is false.
   */
  public FineTuneOptions withAutoLearningRates(boolean others, boolean signs) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, windows, validFraction,
        resume, others, signs, budgetSeconds, device, precision, keepDecoded);
  }

  public FineTuneOptions withSeed(long s) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, s, windows, validFraction, resume,
        autoLr, autoSignLr, budgetSeconds, device, precision, keepDecoded);
  }

  public FineTuneOptions withWindows(int w) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, w, validFraction, resume,
        autoLr, autoSignLr, budgetSeconds, device, precision, keepDecoded);
  }

  public FineTuneOptions withResume(boolean r) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, windows, validFraction, r,
        autoLr, autoSignLr, budgetSeconds, device, precision, keepDecoded);
  }

  /** Wall time of the stage in seconds (0 = no limit). */
  public FineTuneOptions withBudget(double seconds) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, windows, validFraction,
        resume, autoLr, autoSignLr, seconds, device, precision, keepDecoded);
  }

  public FineTuneOptions withDevice(Device d) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, windows, validFraction,
        resume, autoLr, autoSignLr, budgetSeconds, d, precision, keepDecoded);
  }

  public FineTuneOptions withPrecision(Precision p) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, windows, validFraction,
        resume, autoLr, autoSignLr, budgetSeconds, device, p, keepDecoded);
  }

  /** See {@link #keepDecoded}. */
  public FineTuneOptions withKeepDecoded(boolean k) {
    return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, windows, validFraction,
        resume, autoLr, autoSignLr, budgetSeconds, device, precision, k);
  }

  /** Whether a sweep chooses a learning rate before training. */
  boolean sweeps() {
    return autoLr || autoSignLr;
  }

  /** The trainer's settings at these learning rates. */
  Trainer.Settings settings(long seedMix, double lrNow, double signLrNow) {
    return new Trainer.Settings(epochs, batch, lrNow, signLrNow, patience, seed ^ seedMix,
        budgetSeconds);
  }

  Trainer.Settings settings(long seedMix) {
    return settings(seedMix, lr, signLr);
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

  /**
   * The settings as recorded with a run ({@code --resume} insists on the same): "auto" where the
   * sweep or early stopping decides, the value otherwise.
   */
  ObjectNode toJson() {
    ObjectNode o = settings(0).toJson();
    if (autoEpochs()) {
      o.put("epochs", "auto");
    }
    if (autoLr) {
      o.put("lr", "auto");
      o.put("lr_center", lr);
    }
    if (autoSignLr) {
      o.put("sign_lr", "auto");
      o.put("sign_lr_center", signLr);
    }
    o.put("windows", windows);
    o.put("valid_fraction", validFraction);
    if (budgetSeconds > 0) {
      o.put("budget_seconds", budgetSeconds);
    }
    if (device != Device.CPU) {
      o.put("device", device.name().toLowerCase(Locale.ROOT));
    }
    if (precision != Precision.FP32) {
      o.put("precision", precision.name().toLowerCase(Locale.ROOT));
    }
    return o;
  }
}
