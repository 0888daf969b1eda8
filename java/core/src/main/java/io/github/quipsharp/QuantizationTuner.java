package io.github.quipsharp;

import io.github.quipsharp.internal.BlockTuner;

/**
 * Fine-tuning that {@link ModelQuantizer} runs between the groups of each block while it
 * quantizes (QUIPSHARP.md §6.2), given with {@link ModelQuantizer.Options.Builder#tuner}. The
 * implementation is quipsharp-finetune's {@code BlockwiseTuner}; the quantizer reaches its work
 * through a hook that only quipsharp's own modules can attach (the hook's types are internal), so
 * this type has no methods of its own.
 */
public abstract class QuantizationTuner {
  private volatile BlockTuner hook;

  /** For quipsharp-finetune's tuners, which attach their hook as they are constructed. */
  protected QuantizationTuner() {}

  /** The attached hook, or null when none was attached (a subclass from outside quipsharp). */
  BlockTuner hook() {
    return hook;
  }

  /** Attaches the hook; once only. */
  synchronized void attach(BlockTuner h) {
    if (hook != null) {
      throw new IllegalStateException(getClass().getName() + " has its tuning hook already");
    }
    hook = h;
  }
}
