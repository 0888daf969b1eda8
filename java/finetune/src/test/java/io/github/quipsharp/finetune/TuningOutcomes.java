package io.github.quipsharp.finetune;

import io.github.quipsharp.ProgressListener;

/**
 * Counts the tunings (blockwise: one per block and group) whose last epoch's validation loss is
 * below their epoch-0 one, and those whose loss did not fall.
 */
final class TuningOutcomes implements ProgressListener {
  private double initial;
  private int lowered;
  private int notLowered;

  @Override
  public void tuningEpoch(String stage, int epoch, int epochs, double train, double valid) {
    if (epoch == 0) {
      initial = valid;
    } else if (epoch == epochs) {
      if (valid < initial) {
        lowered++;
      } else {
        notLowered++;
      }
    }
  }

  int lowered() {
    return lowered;
  }

  int total() {
    return lowered + notLowered;
  }
}
