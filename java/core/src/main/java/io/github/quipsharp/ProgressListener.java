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

  /** A line of information (what was found, what is written). */
  default void info(String message) {}

  /** Ignores everything. */
  ProgressListener NONE = new ProgressListener() {};
}
