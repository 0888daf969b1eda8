package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.NativeCalls;

/**
 * The number of threads the native kernels use. There is one pool per process; while one call runs
 * a parallel region, calls from other Java threads run on their own thread, so the cores are never
 * oversubscribed. Default: the environment variable {@code QUIPSHARP_NUM_THREADS}, else the number
 * of hardware threads.
 */
public final class NativeThreads {
  /** Largest accepted thread count. */
  public static final int MAX = 256;

  private NativeThreads() {}

  /** Sets the thread count (1..256) for the next native calls. */
  public static void set(int threads) {
    if (threads < 1 || threads > MAX) {
      throw new IllegalArgumentException("threads = " + threads + " must be in 1.." + MAX);
    }
    NativeCalls.ensureLoaded();
    NativeCalls.check(QuipsharpNative.qs_set_num_threads(threads), "NativeThreads.set");
  }

  /** The current thread count. */
  public static int get() {
    NativeCalls.ensureLoaded();
    return QuipsharpNative.qs_get_num_threads();
  }
}
