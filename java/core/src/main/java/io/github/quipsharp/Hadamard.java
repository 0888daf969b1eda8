package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.NativeCalls;

/**
 * Hadamard matrices of order n = m·2^k (QUIPSHARP.md §2): m is one of 1, 12, 20, 28, 36, 52, 60, 108,
 * 116, 124, 140, 156, 172, chosen by the rule of §2.2, and the base matrices are built by the Paley
 * and Williamson constructions of §2.3. The orthogonal matrix is M_n = (H_m ⊗ S_2^k) / sqrt(n).
 */
public final class Hadamard {
  /** Largest order for which {@link #matrix} builds the dense matrix. */
  public static final int MAX_DENSE_ORDER = 8192;

  private Hadamard() {}

  /** Whether n is a supported order. */
  public static boolean isSupported(int n) {
    return baseOrder(n) != 0;
  }

  /** The base order m of n (1 for powers of two), or 0 when n is not supported. */
  public static int baseOrder(int n) {
    if (n <= 0) {
      return 0;
    }
    NativeCalls.ensureLoaded();
    return QuipsharpNative.qs_hadamard_base_order(n);
  }

  /**
   * The dense M_n, n×n row-major, normalized so that M·Mᵀ = I.
   *
   * @throws IllegalArgumentException if n is unsupported or larger than {@link #MAX_DENSE_ORDER}
   */
  public static float[] matrix(int n) {
    requireSupported(n, "n");
    if (n > MAX_DENSE_ORDER) {
      throw new IllegalArgumentException(
          "n = " + n + " is too large for a dense Hadamard matrix (at most " + MAX_DENSE_ORDER + ")");
    }
    float[] out = new float[Checks.product(n, n, "Hadamard matrix")];
    NativeCalls.check(QuipsharpNative.qs_hadamard_matrix(n, out), "Hadamard.matrix(" + n + ")");
    return out;
  }

  /**
   * The fast transform of every length-n vector in {@code x} (x.length a multiple of n): M_n·v, or
   * M_nᵀ·v when {@code transpose}. Returns a new array.
   */
  public static float[] transform(float[] x, int n, boolean transpose) {
    requireSupported(n, "n");
    Checks.notNull(x, "x");
    Checks.multipleOf(x.length, n, "x", "n = " + n);
    float[] out = x.clone();
    NativeCalls.check(
        QuipsharpNative.qs_hadamard_transform_f32(out, x.length / n, n, transpose ? 1 : 0),
        "Hadamard.transform");
    return out;
  }

  /** The supported orders nearest to n: the largest below and the smallest above (either may be 0). */
  public static int[] nearestSupported(int n) {
    return nearest(n, 1);
  }

  /**
   * The supported orders that are multiples of {@code multiple} nearest to n: the largest below and
   * the smallest above (0 where there is none in the int range).
   */
  static int[] nearest(int n, int multiple) {
    long below = 0;
    long above = 0;
    for (int m : BASE_ORDERS) {
      for (long c = m; c <= Integer.MAX_VALUE; c *= 2) {
        if (c % multiple != 0) {
          continue;
        }
        if (c < n && c > below) {
          below = c;
        }
        if (c > n && (above == 0 || c < above)) {
          above = c;
        }
      }
    }
    return new int[] {(int) below, (int) above};
  }

  /** The base orders of §2.3. */
  static final int[] BASE_ORDERS = {1, 12, 20, 28, 36, 52, 60, 108, 116, 124, 140, 156, 172};

  static void requireSupported(int n, String name) {
    if (!isSupported(n)) {
      int[] near = nearestSupported(n);
      StringBuilder sizes = new StringBuilder();
      if (near[0] > 0) {
        sizes.append(near[0]);
      }
      if (near[1] > 0) {
        sizes.append(sizes.length() > 0 ? " and " : "").append(near[1]);
      }
      throw new IllegalArgumentException(
          name
              + " = "
              + n
              + " is not a supported Hadamard order (m·2^k with m in {1, 12, 20, 28, 36, 52, 60, 108,"
              + " 116, 124, 140, 156, 172}); nearest supported: "
              + sizes);
    }
  }

}
