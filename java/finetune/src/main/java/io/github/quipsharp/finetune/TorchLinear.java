package io.github.quipsharp.finetune;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.QuantizedGroup;
import io.github.quipsharp.model.LlamaConfig;
import java.util.Arrays;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * One linear group of a block in libtorch: a dense stacked weight, or a quantized group whose
 * fixed matrix {@code A = M_m W̃ M_nᵀ} (decoded once from the codes, never trained) is scaled on
 * both sides by the trainable vectors SU and SV (QUIPSHARP.md §7.1 in "train mode"):
 * {@code y = fuse ⊙ SV ⊙ (A (SU ⊙ x))} over the real rows and columns. The padded entries of SU
 * and SV (§10.6) meet only zero inputs or cut outputs and stay as they were.
 */
final class TorchLinear {
  final LinearGroup group;
  final int rows;
  final int cols;
  /** Dense: the rows×cols weight. */
  final Tensor weight;
  /** Quantized: the stored parts and the tensors built from them. */
  final QuantizedGroup stored;
  final Tensor fixed;
  final Tensor su;
  final Tensor sv;
  final Tensor rowFuse;

  private TorchLinear(LinearGroup group, int rows, int cols, Tensor weight, QuantizedGroup stored,
      Tensor fixed, Tensor su, Tensor sv, Tensor rowFuse) {
    this.group = group;
    this.rows = rows;
    this.cols = cols;
    this.weight = weight;
    this.stored = stored;
    this.fixed = fixed;
    this.su = su;
    this.sv = sv;
    this.rowFuse = rowFuse;
  }

  /** A dense group from its stacked weight (rows×cols, row-major). */
  static TorchLinear dense(LinearGroup g, int rows, int cols, float[] w, ScalarType type) {
    return new TorchLinear(g, rows, cols, Torch.of(w, type, rows, cols), null, null, null, null, null);
  }

  /** A dense group from a libtorch weight it takes over. */
  static TorchLinear dense(LinearGroup g, Tensor w) {
    return new TorchLinear(g, (int) w.size(0), (int) w.size(1), w, null, null, null, null, null);
  }

  /** A quantized group: decodes its fixed matrix once. */
  static TorchLinear quantized(QuantizedGroup q, LlamaConfig c, ScalarType type) {
    return quantized(q, q.group().memberRows(c), type);
  }

  /** A quantized group whose members have these row counts. */
  static TorchLinear quantized(QuantizedGroup q, int[] memberRows, ScalarType type) {
    float[] a = q.fixedMatrix();
    if (q.wscale() != 1.0f) {
      for (int i = 0; i < a.length; i++) {
        a[i] *= q.wscale();
      }
    }
    int rows = q.rows();
    int cols = q.cols();
    return new TorchLinear(q.group(), rows, cols, null, q, Torch.of(a, type, rows, cols),
        Torch.of(Arrays.copyOf(q.su(), cols), type, cols),
        Torch.of(Arrays.copyOf(q.sv(), rows), type, rows),
        Torch.of(q.rowFuse(memberRows), type, rows));
  }

  boolean isQuantized() {
    return stored != null;
  }

  /** y for x of shape [..., cols]: [..., rows]. */
  Tensor forward(Tensor x) {
    if (stored == null) {
      return x.matmul(weight.t());
    }
    return x.mul(su).matmul(fixed.t()).mul(sv.mul(rowFuse));
  }

  /** The stored parts with the current SU and SV written back (padding entries unchanged). */
  QuantizedGroup storedNow() {
    float[] newSu = stored.su().clone();
    float[] newSv = stored.sv().clone();
    System.arraycopy(Torch.floats(su), 0, newSu, 0, cols);
    System.arraycopy(Torch.floats(sv), 0, newSv, 0, rows);
    return stored.withSigns(newSu, newSv);
  }
}
