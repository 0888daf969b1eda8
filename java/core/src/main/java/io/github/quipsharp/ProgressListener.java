package io.github.quipsharp;

/**
 * Progress of a whole-model quantization ({@link ModelQuantizer}). Every method has an empty default;
 * calls come from the quantizing thread.
 */
public interface ProgressListener {
  /** Hessian collection: {@code done} of {@code total} calibration windows have run. */
  default void hessianProgress(int done, int total) {}

  /** Layer group {@code index} (0-based) of {@code total} starts. */
  default void layerStarted(int layer, LinearGroup group, int index, int total) {}

  /** Layer group {@code index} of {@code total} finished (or was found finished when resuming). */
  default void layerFinished(LayerReport report, int index, int total, boolean resumed) {}

  /**
   * Fine-tuning ({@code stage} names it, e.g. "layer 3 after qkv" or "end-to-end"): optimiser step
   * {@code step} of {@code steps} in the current epoch, with its training loss.
   */
  default void tuningStep(String stage, int epoch, int step, int steps, double loss) {}

  /** Fine-tuning: epoch {@code epoch} (1-based; 0 = before training) ended with these losses. */
  default void tuningEpoch(String stage, int epoch, int epochs, double trainLoss, double validLoss) {}

  /** A line of information (what was found, what is written). */
  default void info(String message) {}

  /**
   * The calibration windows ({@code ctx} tokens) run past the model's context length, which was
   * allowed: the Hessians come from positions the model was never trained for. By default an
   * {@link #info} line naming both lengths.
   */
  default void windowsPastContext(int ctx, int contextLength) {
    info("warning: ctx " + ctx + " exceeds the model's context length " + contextLength
        + " (max_position_embeddings): the Hessians come from positions it was never trained for");
  }

  /** Ignores everything. */
  ProgressListener NONE = new ProgressListener() {};
}
