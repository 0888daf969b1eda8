package io.github.quipsharp.finetune;

import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.pytorch.Tensor;

/**
 * Accounting of the decoded fixed matrices of quantized groups ({@link TorchLinear#decode}), the
 * memory that used to grow with the number of layers: bytes alive now, the most alive at once
 * since {@link #resetPeak}, and how many were still referenced by something else (an autograd
 * graph, a view) when they were released, which would keep them alive past their block. The
 * memory test reads these; they are exact where process memory (RSS) is noisy.
 */
final class DecodedMatrices {
  private static final AtomicLong LIVE = new AtomicLong();
  private static final AtomicLong PEAK = new AtomicLong();
  private static final AtomicLong STILL_REFERENCED = new AtomicLong();
  private static final AtomicLong DECODES = new AtomicLong();
  private static final AtomicLong DECODE_NANOS = new AtomicLong();

  private DecodedMatrices() {}

  /** One group decoded in {@code nanos}. */
  static void decoded(long nanos) {
    DECODES.incrementAndGet();
    DECODE_NANOS.addAndGet(nanos);
  }

  static long decodes() {
    return DECODES.get();
  }

  static double decodeSeconds() {
    return DECODE_NANOS.get() / 1e9;
  }

  static void allocated(long bytes) {
    long now = LIVE.addAndGet(bytes);
    PEAK.accumulateAndGet(now, Math::max);
  }

  /** Called just before the owner drops its reference to {@code t}. */
  static void released(Tensor t) {
    // The owner's handle counts one; a view or a saved tensor of a graph would add to the
    // storage's count, the tensor's own count covers other handles.
    if (t.use_count() > 1 || t.storage().use_count() > 2) {
      STILL_REFERENCED.incrementAndGet();
    }
    LIVE.addAndGet(-t.nbytes());
  }

  static long liveBytes() {
    return LIVE.get();
  }

  static long peakBytes() {
    return PEAK.get();
  }

  static long stillReferenced() {
    return STILL_REFERENCED.get();
  }

  /** Starts a new peak from what is alive now, and clears the counts. */
  static void resetPeak() {
    PEAK.set(LIVE.get());
    STILL_REFERENCED.set(0);
    DECODES.set(0);
    DECODE_NANOS.set(0);
  }
}
