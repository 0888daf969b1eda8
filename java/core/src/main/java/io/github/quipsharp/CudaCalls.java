package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpCuda;
import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.NativeCalls;

/**
 * Loads the CUDA engine's binding (libquipsharp_cuda, static cudart: it loads without a driver) on
 * first use only, and turns its status codes into Java exceptions with the native message.
 */
final class CudaCalls {
  private static volatile boolean loaded;

  private CudaCalls() {}

  static void ensureLoaded() {
    if (!loaded) {
      synchronized (CudaCalls.class) {
        if (!loaded) {
          NativeCalls.ensureLoaded();
          NativeCalls.load(QuipsharpCuda.class, "the quipsharp CUDA engine (libquipsharp_cuda)");
          loaded = true;
        }
      }
    }
  }

  static String lastError() {
    return QuipsharpCuda.qs_cuda_last_error().getString();
  }

  /** Throws the exception matching a non-zero status of a quipsharp_cuda.h call. */
  static void check(int status, String context) {
    if (status == QuipsharpNative.QS_OK) {
      return;
    }
    throw NativeCalls.exception(status, context + ": " + lastError());
  }
}
