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
  public static final FineTuneOptions BLOCK_DEFAULTS = new Builder().epochs(5).batch(8)
      .learningRates(5e-5, 5e-4).patience(3).build();
  /**
   * End-to-end (§6.3, paper F.6 learning rates 5e-5 / SU/SV 5e-4; 5 epochs; batch 2 as in §6.5's
   * stories260K measurements, where batch 1 with accumulation 2 is the reference script's).
   */
  public static final FineTuneOptions E2E_DEFAULTS = new Builder().epochs(5).batch(2)
      .learningRates(5e-5, 5e-4).patience(3).build();
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
    if (device == null) {
      throw new IllegalArgumentException("device must not be null");
    }
    if (precision == null) {
      throw new IllegalArgumentException("precision must not be null");
    }
  }

  public boolean autoEpochs() {
    return epochs == AUTO_EPOCHS;
  }

  /** A builder holding these options, to change some of them. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** Fixed epochs, or {@link #AUTO_EPOCHS}. */
  public FineTuneOptions withEpochs(int e) {
    return toBuilder().epochs(e).build();
  }

  public FineTuneOptions withBatch(int b) {
    return toBuilder().batch(b).build();
  }

  /** Both learning rates, fixed (the sign vectors' second). */
  public FineTuneOptions withLearningRates(double others, double signs) {
    return toBuilder().learningRates(others, signs).autoLearningRates(false, false).build();
  }

  /**
   * Which learning rates the sweep chooses; the values set stay the centre of its grid (their
   * 1× point) and are used as they are where the flag is false.
   */
  public FineTuneOptions withAutoLearningRates(boolean others, boolean signs) {
    return toBuilder().autoLearningRates(others, signs).build();
  }

  public FineTuneOptions withSeed(long s) {
    return toBuilder().seed(s).build();
  }

  public FineTuneOptions withWindows(int w) {
    return toBuilder().windows(w).build();
  }

  public FineTuneOptions withResume(boolean r) {
    return toBuilder().resume(r).build();
  }

  /** Wall time of the stage in seconds (0 = no limit). */
  public FineTuneOptions withBudget(double seconds) {
    return toBuilder().budgetSeconds(seconds).build();
  }

  public FineTuneOptions withDevice(Device d) {
    return toBuilder().device(d).build();
  }

  public FineTuneOptions withPrecision(Precision p) {
    return toBuilder().precision(p).build();
  }

  /** See {@link #keepDecoded}. */
  public FineTuneOptions withKeepDecoded(boolean k) {
    return toBuilder().keepDecoded(k).build();
  }

  /**
   * Fine-tuning options set by name; {@link #build} checks them (an IllegalArgumentException names
   * the field). Starts from {@link #E2E_DEFAULTS}'s values, or from any options' with {@link
   * FineTuneOptions#toBuilder}.
   */
  public static final class Builder {
    private int epochs = 5;
    private int batch = 2;
    private double lr = 5e-5;
    private double signLr = 5e-4;
    private int patience = 3;
    private long seed;
    private int windows;
    private double validFraction = 1.0 / 3;
    private boolean resume;
    private boolean autoLr;
    private boolean autoSignLr;
    private double budgetSeconds;
    private Device device = Device.CPU;
    private Precision precision = Precision.FP32;
    private boolean keepDecoded;

    Builder() {}

    private Builder(FineTuneOptions o) {
      epochs = o.epochs;
      batch = o.batch;
      lr = o.lr;
      signLr = o.signLr;
      patience = o.patience;
      seed = o.seed;
      windows = o.windows;
      validFraction = o.validFraction;
      resume = o.resume;
      autoLr = o.autoLr;
      autoSignLr = o.autoSignLr;
      budgetSeconds = o.budgetSeconds;
      device = o.device;
      precision = o.precision;
      keepDecoded = o.keepDecoded;
    }

    /** Epochs (>= 0), or {@link #AUTO_EPOCHS}. */
    public Builder epochs(int e) {
      epochs = e;
      return this;
    }

    /** Windows per optimiser step (>= 1). */
    public Builder batch(int b) {
      batch = b;
      return this;
    }

    /** Adam's learning rate for the weights and norms, and the sign vectors' (both > 0). */
    public Builder learningRates(double others, double signs) {
      lr = others;
      signLr = signs;
      return this;
    }

    /** Which learning rates a sweep chooses around the values set (see the record's doc). */
    public Builder autoLearningRates(boolean others, boolean signs) {
      autoLr = others;
      autoSignLr = signs;
      return this;
    }

    /** Epochs without a better validation loss before stopping (>= 1). */
    public Builder patience(int p) {
      patience = p;
      return this;
    }

    /** The seed of the window order. */
    public Builder seed(long s) {
      seed = s;
      return this;
    }

    /** Calibration windows to use (0 = all). */
    public Builder windows(int w) {
      windows = w;
      return this;
    }

    /** The fraction of the windows, from the end, that validates (in (0, 1)). */
    public Builder validFraction(double f) {
      validFraction = f;
      return this;
    }

    /** End-to-end only: continue an interrupted run from its saved state. */
    public Builder resume(boolean r) {
      resume = r;
      return this;
    }

    /** Wall time of the stage in seconds (0 = no limit). */
    public Builder budgetSeconds(double seconds) {
      budgetSeconds = seconds;
      return this;
    }

    public Builder device(Device d) {
      device = d;
      return this;
    }

    public Builder precision(Precision p) {
      precision = p;
      return this;
    }

    /** See {@link FineTuneOptions#keepDecoded}. */
    public Builder keepDecoded(boolean k) {
      keepDecoded = k;
      return this;
    }

    /** The options; throws IllegalArgumentException naming a field out of range. */
    public FineTuneOptions build() {
      return new FineTuneOptions(epochs, batch, lr, signLr, patience, seed, windows, validFraction,
          resume, autoLr, autoSignLr, budgetSeconds, device, precision, keepDecoded);
    }
  }

  /** A builder starting from {@link #E2E_DEFAULTS}'s values. */
  public static Builder builder() {
    return new Builder();
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
          + "train on, one to validate), have " + n + "; use more calibration text or shorter windows (a smaller ctx)");
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
