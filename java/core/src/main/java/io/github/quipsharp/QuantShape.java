package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.NativeCalls;

/**
 * The padded internal shape of a quantized rows×cols matrix (QUIPSHARP.md §10.6). The randomized
 * Hadamard transform runs on {@code rhtRows × rhtCols}: each dimension itself when it is a supported
 * Hadamard order, else zero-padded to the smallest supported order that is a multiple of 8 (without
 * incoherence processing, the dimensions themselves). The codes cover {@code rhtRows × codeCols}, with
 * {@code codeCols} = rhtCols rounded up to a multiple of 8 (zero columns appended after the
 * transform, with a Hessian block decoupled from the real columns). Padded inputs are zero and padded
 * outputs are dropped, so the matrix acts exactly as a rows×cols matrix.
 */
public record QuantShape(int rows, int cols, int rhtRows, int rhtCols, int codeCols) {

  /** The shape that {@link Quantizer#quantize} uses for a rows×cols matrix. */
  public static QuantShape of(int rows, int cols, boolean incoherence) {
    Checks.positive(rows, "rows");
    Checks.positive(cols, "cols");
    NativeCalls.ensureLoaded();
    long[] out = new long[3];
    NativeCalls.check(
        QuipsharpNative.qs_qlinear_shape(rows, cols, incoherence ? 1 : 0, out),
        "QuantShape.of(" + rows + ", " + cols + ")");
    if (out[0] > Integer.MAX_VALUE || out[1] > Integer.MAX_VALUE || out[2] > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "padded shape of " + rows + " x " + cols + " is too large: " + out[0] + " x " + out[2]);
    }
    return new QuantShape(rows, cols, (int) out[0], (int) out[1], (int) out[2]);
  }

  /** Whether any dimension is padded. */
  public boolean isPadded() {
    return rhtRows != rows || rhtCols != cols || codeCols != cols;
  }

  /** Number of codes (one per 8 weights of the padded matrix). */
  public int codeCount() {
    return Checks.product(rhtRows, codeCols / 8, "codes");
  }

  /** Rows of the kernel packing (§8.4 needs a multiple of 16; padded with zero codes). */
  public int packedRows() {
    return (rhtRows + 15) / 16 * 16;
  }

  /** Columns of the kernel packing (§8.4 needs a multiple of 64; padded with zero codes). */
  public int packedCols() {
    return (codeCols + 63) / 64 * 64;
  }

  /** "64 x 172 (RHT 64 x 172, codes 64 x 176)", or "64 x 64" when nothing is padded. */
  public String describe() {
    if (!isPadded()) {
      return rows + " x " + cols;
    }
    return rows + " x " + cols + " (RHT " + rhtRows + " x " + rhtCols + ", codes " + rhtRows + " x "
        + codeCols + ")";
  }
}
