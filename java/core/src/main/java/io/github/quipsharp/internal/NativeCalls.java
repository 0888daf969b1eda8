package io.github.quipsharp.internal;

import io.github.quipsharp.NativeOutOfMemoryException;
import io.github.quipsharp.NotPositiveDefiniteException;
import io.github.quipsharp.QuipsharpException;
import io.github.quipsharp.bindings.QuipsharpNative;

/**
 * Loads the native library (from the bindings jar, through JavaCPP) and turns native status codes
 * into Java exceptions carrying the native message.
 */
public final class NativeCalls {
  private static volatile boolean loaded;

  private NativeCalls() {}

  /** Loads the library once; a failure is reported as a {@link QuipsharpException}. */
  public static void ensureLoaded() {
    if (!loaded) {
      synchronized (NativeCalls.class) {
        if (!loaded) {
          load(QuipsharpNative.class, "the quipsharp native library");
          loaded = true;
        }
      }
    }
  }

  /** Loads a JavaCPP binding class's libraries from its jar, or throws a QuipsharpException. */
  public static void load(Class<?> binding, String what) {
    try {
      org.bytedeco.javacpp.Loader.load(binding);
    } catch (UnsatisfiedLinkError | ExceptionInInitializerError | NoClassDefFoundError e) {
      throw new QuipsharpException(
          "could not load " + what + " for platform " + org.bytedeco.javacpp.Loader.getPlatform()
              + " from the quipsharp-bindings jar: " + e,
          e);
    }
  }

  /** Throws the exception matching a non-zero native status, prefixed with {@code context}. */
  public static void check(int status, String context) {
    if (status == QuipsharpNative.QS_OK) {
      return;
    }
    throw exception(status, context + ": " + QuipsharpNative.qs_last_error().getString());
  }

  /**
   * The one table from the statuses of quipsharp.h and quipsharp_cuda.h (QS_ERR_*) to exceptions:
   * the caller's argument ({@code INVALID_ARGUMENT}, {@code NON_FINITE}) is an {@link
   * IllegalArgumentException} ({@link io.github.quipsharp.NonFiniteValueException} for a value that
   * is not finite, {@link NotPositiveDefiniteException} for a Hessian that damping
   * cannot make definite); memory is a {@link NativeOutOfMemoryException}; no CUDA device, a CUDA
   * failure and internal errors are a {@link QuipsharpException}. {@code message} is the whole
   * message (context and the native text).
   */
  public static RuntimeException exception(int status, String message) {
    switch (status) {
      case QuipsharpNative.QS_ERR_INVALID_ARGUMENT:
        return new IllegalArgumentException(message);
      case QuipsharpNative.QS_ERR_NON_FINITE:
        return new io.github.quipsharp.NonFiniteValueException(message);
      case QuipsharpNative.QS_ERR_NOT_POSITIVE_DEFINITE:
        return new NotPositiveDefiniteException(message);
      case QuipsharpNative.QS_ERR_OUT_OF_MEMORY:
        return new NativeOutOfMemoryException(message, false);
      case QuipsharpNative.QS_ERR_DEVICE_OUT_OF_MEMORY:
        return new NativeOutOfMemoryException(message, true);
      case QuipsharpNative.QS_ERR_NO_CUDA_DEVICE:
      case QuipsharpNative.QS_ERR_CUDA:
      case QuipsharpNative.QS_ERR_INTERNAL:
        return new QuipsharpException(message);
      default:
        return new QuipsharpException(message + " (unknown native status " + status + ")");
    }
  }
}
