package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.NativeCalls;

/**
 * The E8P12 lattice codebook (QUIPSHARP.md §3): 65536 points of E8 + ¼ in 8 dimensions, one 16-bit
 * code per 8 weights (2 bits per weight). Codes use the reference bit layout of §3.4: the high byte is
 * the row of the 256-entry absolute-value table, the low byte the sign/shift bits. Encoding is the
 * exact nearest codeword of the <em>unscaled</em> codebook, found through the codebook's structure
 * (2 shifts × 256 rows with a parity correction, §3.5), not by a scan of all codewords.
 */
public final class E8P12Codebook {
  private static final E8P12Codebook INSTANCE = new E8P12Codebook();

  /** Number of codewords. */
  public static final int SIZE = 1 << 16;

  /** Default scale ρ (§3.6): quantize x·ρ for inputs of unit RMS. */
  public static final double OPT_SCALE = 1.03;

  private E8P12Codebook() {}

  public static E8P12Codebook get() {
    NativeCalls.ensureLoaded();
    return INSTANCE;
  }

  public int size() {
    return SIZE;
  }

  /** Each group of 8 values to the code of its nearest codeword (x.length a multiple of 8). */
  public short[] encode(float[] x) {
    Checks.notNull(x, "x");
    Checks.multipleOf(x.length, 8, "x");
    Checks.finite(x, "x");
    short[] codes = new short[x.length / 8];
    NativeCalls.check(
        QuipsharpNative.qs_e8p_encode(x, codes.length, codes, (float[]) null), "E8P12 encode");
    return codes;
  }

  /** The 8 coordinates of each code's codeword. */
  public float[] decode(short[] codes) {
    Checks.notNull(codes, "codes");
    float[] out = new float[Checks.product(codes.length, 8, "decoded codes")];
    NativeCalls.check(QuipsharpNative.qs_e8p_decode(codes, codes.length, out), "E8P12 decode");
    return out;
  }

  /** The 256×8 absolute-value table S of §3.2, row-major. */
  public float[] absoluteTable() {
    float[] out = new float[256 * 8];
    NativeCalls.check(QuipsharpNative.qs_e8p_abs_table(out), "E8P12 table");
    return out;
  }

  /** The 256 packed words of §3.3 (nibble-encoded signed rows, the kernels' lookup table). */
  public int[] packedTable() {
    int[] out = new int[256];
    NativeCalls.check(QuipsharpNative.qs_e8p_packed_table(out), "E8P12 packed table");
    return out;
  }
}
