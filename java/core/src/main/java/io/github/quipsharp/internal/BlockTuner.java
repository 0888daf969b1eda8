package io.github.quipsharp.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.model.ModelSource;
import java.nio.file.Path;

/**
 * Blockwise fine-tuning inside {@link ModelQuantizer} (QUIPSHARP.md §6.2): after each of the
 * groups qkv, o and up of a block is quantized, {@link #tune} adjusts what stays continuous in
 * that block (sign vectors of the quantized groups, weights of the others, the norms) so that the
 * block's output matches the fp block's on calibration activations. The quantizer then quantizes
 * the next group from the tuned weights. Implemented over libtorch in the finetune module.
 */
public interface BlockTuner {
  /** The settings, recorded with the run so that {@code --resume} insists on the same ones. */
  JsonNode settings();

  /**
   * Called once before the first block that is quantized, with the fp model and the calibration
   * windows ({@code windows} windows of {@code ctx} tokens from the start of
   * {@code calibration}).
   */
  void start(ModelSource src, int[] calibration, int ctx, int windows, ProgressListener listener);

  /**
   * {@link #start} with a work folder inside the quantizer's resumable state ({@code out/.partial};
   * removed with it when the checkpoint is complete): what the tuner saves there survives an
   * interruption and is passed to {@link #record} at the end. The default ignores it.
   */
  default void start(ModelSource src, int[] calibration, int ctx, int windows,
      ProgressListener listener, Path workDir) {
    start(src, calibration, ctx, windows, listener);
  }

  /**
   * What the tuning did (for example why each tuning stopped), read from {@code workDir}, to be
   * recorded in the checkpoint's config under {@code quipsharp.blockwise_finetune_record}; null for
   * nothing. Called once all layers are done, possibly by a resumed run.
   */
  default JsonNode record(Path workDir) {
    return null;
  }

  /** Tunes {@code state.layer()} after {@code justQuantized} (qkv, o or up) was quantized. */
  void tune(LayerState state, LinearGroup justQuantized, ProgressListener listener);
}
