package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.NativeCalls;

/**
 * The randomized Hadamard transform of QUIPSHARP.md §2: random ±1 signs s from a seed, then the
 * orthogonal M_n. {@code forward(v) = M_nᵀ (s ⊙ v)} (the input-side transform of §1.4/§7.1) and
 * {@code inverse(v) = s ⊙ (M_n v)}, so {@code inverse(forward(v)) = v}. Both work on a batch: the
 * array holds any number of consecutive length-n vectors. Immutable and thread-safe.
 */
public final class RandomizedHadamard {
  private final int n;
  private final long seed;
  private final float[] signs;

  private RandomizedHadamard(int n, long seed, float[] signs) {
    this.n = n;
    this.seed = seed;
    this.signs = signs;
  }

  /** The transform of order n with signs drawn from {@code seed} (stream 0; deterministic). */
  public static RandomizedHadamard of(int n, long seed) {
    Hadamard.requireSupported(n, "n");
    float[] signs = new float[n];
    NativeCalls.check(QuipsharpNative.qs_random_signs(n, seed, 0, signs), "random signs");
    return new RandomizedHadamard(n, seed, signs);
  }

  public int n() {
    return n;
  }

  public long seed() {
    return seed;
  }

  /** A copy of the sign vector (entries +1 or -1). */
  public float[] signs() {
    return signs.clone();
  }

  /** M_nᵀ (s ⊙ v) for every length-n vector v of x; returns a new array. */
  public float[] forward(float[] x) {
    return apply(x, false);
  }

  /** s ⊙ (M_n v) for every length-n vector v of x; returns a new array. */
  public float[] inverse(float[] x) {
    return apply(x, true);
  }

  /**
   * The forward transform of every column of {@code a}, an n×cols row-major matrix (a.length =
   * n·cols): the left-hand transform Mᵀ diag(s) A. Returns a new array.
   */
  public float[] forwardColumns(float[] a, int cols) {
    return applyColumns(a, cols, false);
  }

  /** The inverse transform of every column of the n×cols row-major matrix {@code a}. */
  public float[] inverseColumns(float[] a, int cols) {
    return applyColumns(a, cols, true);
  }

  private float[] applyColumns(float[] a, int cols, boolean inverse) {
    Checks.notNull(a, "a");
    Checks.positive(cols, "cols");
    Checks.length(a.length, (long) n * cols, "a", "n * cols = " + n + " * " + cols);
    float[] out = a.clone();
    NativeCalls.check(
        QuipsharpNative.qs_rht_apply_f32(out, n, cols, 0, signs, inverse ? 1 : 0),
        inverse ? "RandomizedHadamard.inverseColumns" : "RandomizedHadamard.forwardColumns");
    return out;
  }

  private float[] apply(float[] x, boolean inverse) {
    Checks.notNull(x, "x");
    Checks.multipleOf(x.length, n, "x", "n = " + n);
    float[] out = x.clone();
    NativeCalls.check(
        QuipsharpNative.qs_rht_apply_f32(out, x.length / n, n, 1, signs, inverse ? 1 : 0),
        inverse ? "RandomizedHadamard.inverse" : "RandomizedHadamard.forward");
    return out;
  }
}
