package io.github.quipsharp.finetune;

/**
 * The output folder of an end-to-end fine-tuning holds an interrupted one (its {@code .finetune}
 * folder) and the run was not asked to resume it ({@link FineTuneOptions#resume}).
 * Nothing was written. Carries the folder, so that a command line can word the choice with its
 * flags; unlike a quantization's interrupted run, the folder may be the checkpoint itself (in-place
 * tuning), so deleting it is no advice to give.
 */
public final class InterruptedFineTuningException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String folder;

  public InterruptedFineTuningException(String folder) {
    super(folder + " holds an interrupted fine-tuning; resume it (FineTuneOptions.resume) to "
        + "continue it, or choose another output folder");
    this.folder = folder;
  }

  /** The output folder holding the interrupted fine-tuning. */
  public String folder() {
    return folder;
  }
}
