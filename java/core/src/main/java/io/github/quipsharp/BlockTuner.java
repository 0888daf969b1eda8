package io.github.quipsharp;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.model.ModelSource;

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

  /** Tunes {@code state.layer()} after {@code justQuantized} (qkv, o or up) was quantized. */
  void tune(LayerState state, LinearGroup justQuantized, ProgressListener listener);
}
