package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.NativeCalls;

/**
 * The integer precision of the activation in the CPU codebook kernels ({@link CpuLinear}, and the
 * quantized layers of {@link LlamaModel} when they run a few tokens at a time). The rotated input u
 * is rounded to integers uq with |uq| ≤ L, uq = round(u · L / max|u|): L = 127 for 8 bits (the
 * default; the AVX-512 kernels then need one {@code vpdpbusd} per 64 weights) or 16383 for 16 bits
 * (about half that speed there). Each output of the codebook product moves by at most
 * max|u| / (2L) · Σ_j |W̃_rj|. Process-wide; default: the environment variable {@code
 * QUIPSHARP_ACTIVATION_BITS} (8 or 16), else 8.
 */
public final class ActivationPrecision {
  private ActivationPrecision() {}

  /** Sets the activation precision, 8 or 16 bits, for the next native calls. */
  public static void set(int bits) {
    if (bits != 8 && bits != 16) {
      throw new IllegalArgumentException("activation bits = " + bits + " must be 8 or 16");
    }
    NativeCalls.ensureLoaded();
    NativeCalls.check(QuipsharpNative.qs_set_activation_bits(bits), "ActivationPrecision.set");
  }

  /** The current activation precision in bits (8 or 16). */
  public static int get() {
    NativeCalls.ensureLoaded();
    return QuipsharpNative.qs_get_activation_bits();
  }
}
