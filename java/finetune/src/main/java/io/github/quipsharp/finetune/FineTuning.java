package io.github.quipsharp.finetune;

/** Process-wide settings of fine-tuning over libtorch. */
public final class FineTuning {
  private FineTuning() {}

  /**
   * libtorch's intra-op threads for fine-tuning (null: automatic, 1 for models narrower than 1024
   * and all cores above). OpenBLAS under libtorch always runs on the calling thread.
   */
  public static void setThreads(Integer threads) {
    Torch.threads(threads);
  }
}
