package io.github.quipsharp.internal;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantShape;
import io.github.quipsharp.QuantizedLinear;
import java.util.Arrays;

/**
 * One quantized linear group of a checkpoint in the form it is stored (QUIPSHARP.md §8.3): codes,
 * the input sign vector {@code su} (rhtCols entries), the output vector {@code sv} (rhtRows
 * entries, the global scale fused in), {@code wscale} (1 in what this project writes) and the
 * per-member {@code fuse} scales ({1} for a single-member group). Its effective weight is
 * {@code diag(fuse rows) diag(sv) M_m W̃ M_nᵀ diag(su)}, rows×cols (§7.1).
 *
 * <p>The arrays are the record's own; fine-tuning replaces {@code su} and {@code sv} with
 * {@link #withSigns}, never the codes.
 */
public record QuantizedGroup(
    int layer, LinearGroup group, int rows, int cols, QuantConfig config, int[] codes, float[] su,
    float[] sv, float wscale, float[] fuse) {

  public QuantizedGroup {
    Checks.notNull(group, "group");
    Checks.notNull(config, "config");
    QuantShape s = QuantShape.of(rows, cols, config.incoherence());
    Checks.length(codes.length, s.codeCount(), "codes", "codes of " + s.describe());
    Checks.length(su.length, s.rhtCols(), "su", "padded cols of " + s.describe());
    Checks.length(sv.length, s.rhtRows(), "sv", "padded rows of " + s.describe());
    Checks.length(fuse.length, group.members().length, "fuse", "members of " + group.key());
  }

  /** The padded shape. */
  public QuantShape shape() {
    return QuantShape.of(rows, cols, config.incoherence());
  }

  /** The same codes with other sign vectors (same lengths). */
  public QuantizedGroup withSigns(float[] newSu, float[] newSv) {
    return new QuantizedGroup(layer, group, rows, cols, config, codes, newSu, newSv, wscale, fuse);
  }

  /** The matrix as the engine runs it (without the fuse scales). */
  public QuantizedLinear toLinear() {
    return QuantizedLinear.fromParts(rows, cols, config, codes, su, sv, wscale);
  }

  /**
   * {@code M_m W̃ M_nᵀ} cut to rows×cols (row-major): the fixed part of the weight, to which the
   * sign vectors, {@code wscale} and the fuse scales apply as diagonal factors. Fine-tuning trains
   * those factors on this matrix.
   */
  public float[] fixedMatrix() {
    QuantShape s = shape();
    float[] ones = new float[Math.max(s.rhtCols(), s.rhtRows())];
    Arrays.fill(ones, 1.0f);
    try (QuantizedLinear q = QuantizedLinear.fromParts(rows, cols, config, codes,
        Arrays.copyOf(ones, s.rhtCols()), Arrays.copyOf(ones, s.rhtRows()), 1.0)) {
      return q.decode();
    }
  }

  /** The fuse scale of each of the rows (member i's scale over its rows). */
  public float[] rowFuse(int[] memberRows) {
    float[] out = new float[rows];
    int r = 0;
    for (int i = 0; i < memberRows.length; i++) {
      Arrays.fill(out, r, r + memberRows[i], fuse[i]);
      r += memberRows[i];
    }
    if (r != rows) {
      throw new IllegalArgumentException("member rows sum to " + r + ", not " + rows);
    }
    return out;
  }
}
