package io.github.quipsharp;

/**
 * The native engine ran out of memory: host memory ({@code QS_ERR_OUT_OF_MEMORY}) or the memory of a
 * CUDA device ({@code QS_ERR_DEVICE_OUT_OF_MEMORY}; {@link #onDevice()}). Not the caller's argument:
 * the same call may succeed with more memory free.
 */
public class NativeOutOfMemoryException extends QuipsharpException {
  private static final long serialVersionUID = 1L;

  private final boolean onDevice;

  public NativeOutOfMemoryException(String message, boolean onDevice) {
    super(message);
    this.onDevice = onDevice;
  }

  /** Whether a CUDA device's memory ran out (else host memory). */
  public boolean onDevice() {
    return onDevice;
  }
}
