package io.github.quipsharp.finetune;

/**
 * Fine-tuning stopped: the loss became NaN or infinite (usually a learning rate too high), or the
 * inputs do not belong together. The message says what was kept. Where a setting would fix it,
 * {@link #remedy} says which, so that a command line can name its own flag: the message names
 * the {@link FineTuneOptions} setting, {@link #detail} is the message without the remedy.
 */
public final class FineTuneException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The change of settings that would let the run go through; the message words it. */
  public enum Remedy {
    /** None: the message is the whole story. */
    NONE,
    /** Run again with a lower learning rate ({@link FineTuneOptions#lr}). */
    LOWER_LEARNING_RATE,
    /**
     * Run the quantization again with a lower learning rate ({@link FineTuneOptions#lr}) in a new
     * output folder: a run with another learning rate cannot resume this one.
     */
    LOWER_LEARNING_RATE_IN_A_NEW_RUN,
    /** Set both learning rates lower ({@link FineTuneOptions#lr}, {@link FineTuneOptions#signLr}). */
    LOWER_BOTH_LEARNING_RATES,
    /**
     * The device CUDA is not available: tune on the CPU ({@link FineTuneOptions#device}), or use
     * a CUDA build of libtorch on a machine with an NVIDIA GPU.
     */
    USE_THE_CPU_DEVICE;

    /** {@code detail} with this remedy in the words of the library's settings. */
    String describe(String detail) {
      return switch (this) {
        case NONE -> detail;
        case LOWER_LEARNING_RATE -> detail + "; run again with a lower learning rate "
            + "(FineTuneOptions.lr)";
        case LOWER_LEARNING_RATE_IN_A_NEW_RUN -> detail + ". Quantization stopped; run it again "
            + "with a lower learning rate (FineTuneOptions.lr) in a new output folder (another "
            + "learning rate cannot resume this run)";
        case LOWER_BOTH_LEARNING_RATES -> detail + "; set the learning rates lower "
            + "(FineTuneOptions.lr and FineTuneOptions.signLr)";
        case USE_THE_CPU_DEVICE -> "the device CUDA (FineTuneOptions.device): " + detail
            + "; use the device CPU, or build with -Ptorch-cuda on a machine with an NVIDIA GPU";
      };
    }
  }

  private final String detail;
  private final Remedy remedy;

  public FineTuneException(String message) {
    this(message, Remedy.NONE, null);
  }

  public FineTuneException(String message, Throwable cause) {
    this(message, Remedy.NONE, cause);
  }

  /**
   * @param detail what went wrong and what was kept, without the remedy
   * @param remedy the change of settings that would fix it ({@link Remedy#NONE}: none)
   */
  public FineTuneException(String detail, Remedy remedy, Throwable cause) {
    super(remedy.describe(detail), cause);
    this.detail = detail;
    this.remedy = remedy;
  }

  /** What went wrong and what was kept, without the remedy (the whole message for NONE). */
  public String detail() {
    return detail;
  }

  /** The change of settings that would fix it. */
  public Remedy remedy() {
    return remedy;
  }
}
