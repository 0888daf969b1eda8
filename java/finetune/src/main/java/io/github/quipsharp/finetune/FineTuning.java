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

  /**
   * Whether {@link FineTuneOptions.Device#CUDA} can run here: libtorch's CUDA build is loaded
   * (Maven profile torch-cuda, {@code -Dorg.bytedeco.javacpp.platform.extension=-gpu}) and sees a
   * device.
   */
  public static boolean cudaAvailable() {
    return Torch.cudaAvailable();
  }

  /**
   * What decoding the quantized groups cost since the last {@link #resetDecodeStatistics}: the
   * most bytes of decoded matrices alive at once, how many group decodes (codes read, decoded,
   * rotated and copied into libtorch) and their wall time.
   */
  public record DecodeStatistics(long peakBytes, long decodes, double seconds) {}

  public static DecodeStatistics decodeStatistics() {
    return new DecodeStatistics(DecodedMatrices.peakBytes(), DecodedMatrices.decodes(),
        DecodedMatrices.decodeSeconds());
  }

  public static void resetDecodeStatistics() {
    DecodedMatrices.resetPeak();
  }

  /**
   * Checks that tuning can run on {@code device}.
   *
   * @throws FineTuneException with a one-line reason if it cannot
   */
  public static void requireDevice(FineTuneOptions.Device device) {
    FineTuneOptions.Device before = Torch.deviceKind();
    Torch.use(device);
    Torch.use(before);
  }
}
