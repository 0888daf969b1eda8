package io.github.quipsharp.finetune;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.internal.QuantizedGroup;
import io.github.quipsharp.model.LlamaConfig;
import java.util.Arrays;
import java.util.function.Supplier;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * One linear group of a block in libtorch: a dense stacked weight, or a quantized group whose
 * fixed matrix {@code A = M_m W̃ M_nᵀ} (decoded from the codes, never trained) is scaled on both
 * sides by the trainable vectors SU and SV (QUIPSHARP.md §7.1 in "train mode"):
 * {@code y = fuse ⊙ SV ⊙ (A (SU ⊙ x))} over the real rows and columns. The padded entries of SU
 * and SV (§10.6) meet only zero inputs or cut outputs and stay as they were.
 *
 * <p>A quantized group holds A only between {@link #decode} and {@link #release}: a model decodes
 * one block at a time, so that memory does not grow with the number of layers (the codes are
 * read again from their source at every decode). {@link DecodedMatrices} counts the bytes.
 */
final class TorchLinear {
  final LinearGroup group;
  final int rows;
  final int cols;
  /** Dense: the rows×cols weight. */
  final Tensor weight;
  /** Quantized: where the codes come from at each decode. */
  private final Supplier<QuantizedGroup> source;
  /** Quantized: SU and SV as stored (with their padding entries). */
  private final float[] storedSu;
  private final float[] storedSv;
  final Tensor su;
  final Tensor sv;
  final Tensor rowFuse;
  /** The decoded fixed matrix while decoded, else null. */
  private Tensor fixed;

  private TorchLinear(LinearGroup group, int rows, int cols, Tensor weight,
      Supplier<QuantizedGroup> source, float[] storedSu, float[] storedSv, Tensor su, Tensor sv,
      Tensor rowFuse) {
    this.group = group;
    this.rows = rows;
    this.cols = cols;
    this.weight = weight;
    this.source = source;
    this.storedSu = storedSu;
    this.storedSv = storedSv;
    this.su = su;
    this.sv = sv;
    this.rowFuse = rowFuse;
  }

  /** A dense group from its stacked weight (rows×cols, row-major). */
  static TorchLinear dense(LinearGroup g, int rows, int cols, float[] w, ScalarType type) {
    return new TorchLinear(g, rows, cols, Torch.of(w, type, rows, cols), null, null, null, null,
        null, null);
  }

  /** A dense group from a libtorch weight it takes over. */
  static TorchLinear dense(LinearGroup g, Tensor w) {
    return new TorchLinear(g, (int) w.size(0), (int) w.size(1), w, null, null, null, null, null,
        null);
  }

  /** A quantized group held in memory (its codes decode from {@code q}). */
  static TorchLinear quantized(QuantizedGroup q, LlamaConfig c, ScalarType type) {
    return quantized(q, q.group().memberRows(c), type);
  }

  /** A quantized group held in memory whose members have these row counts. */
  static TorchLinear quantized(QuantizedGroup q, int[] memberRows, ScalarType type) {
    return streamed(q, () -> q, memberRows, type);
  }

  /**
   * A quantized group whose sign vectors and fuse scales come from {@code first} and whose codes
   * are fetched from {@code source} at each decode ({@code first} itself is not kept).
   */
  static TorchLinear streamed(QuantizedGroup first, Supplier<QuantizedGroup> source,
      int[] memberRows, ScalarType type) {
    int rows = first.rows();
    int cols = first.cols();
    return new TorchLinear(first.group(), rows, cols, null, source, first.su().clone(),
        first.sv().clone(), Torch.of(Arrays.copyOf(first.su(), cols), type, cols),
        Torch.of(Arrays.copyOf(first.sv(), rows), type, rows),
        Torch.of(first.rowFuse(memberRows), type, rows));
  }

  boolean isQuantized() {
    return source != null;
  }

  boolean isDecoded() {
    return fixed != null;
  }

  /**
   * Decodes the fixed matrix (wscale folded in) into a {@code type} tensor, unless it is decoded
   * already; dense groups have nothing to decode.
   */
  void decode(ScalarType type) {
    if (source == null || fixed != null) {
      return;
    }
    long start = System.nanoTime();
    QuantizedGroup q = source.get();
    float[] a = q.fixedMatrix();
    if (q.wscale() != 1.0f) {
      for (int i = 0; i < a.length; i++) {
        a[i] *= q.wscale();
      }
    }
    fixed = Torch.of(a, type, rows, cols);
    DecodedMatrices.allocated(fixed.nbytes());
    DecodedMatrices.decoded(System.nanoTime() - start);
  }

  /** Drops the decoded matrix (it is freed unless an autograd graph still holds it). */
  void release() {
    if (fixed == null) {
      return;
    }
    DecodedMatrices.released(fixed);
    fixed.releaseReference();
    fixed = null;
  }

  /** Frees this group's own tensors (see {@link TorchLlama.Block#free}). */
  void free() {
    release();
    for (Tensor t : new Tensor[] {weight, su, sv, rowFuse}) {
      if (t != null) {
        t.releaseReference();
      }
    }
  }

  /** y for x of shape [..., cols]: [..., rows]. A quantized group must be decoded. */
  Tensor forward(Tensor x) {
    if (source == null) {
      return x.matmul(weight.t());
    }
    if (fixed == null) {
      throw new IllegalStateException(group.key() + " is used without being decoded");
    }
    Tensor in = x.mul(su);
    Tensor out;
    if (fixed.scalar_type() == x.scalar_type()) {
      out = in.matmul(fixed.t());
    } else { // bfloat16 storage: the product in that type, the rest in the activations' type
      out = in.to(fixed.scalar_type()).matmul(fixed.t()).to(x.scalar_type());
    }
    return out.mul(sv.mul(rowFuse));
  }

  /** SU as stored, with the trained values over the real columns. */
  float[] suNow() {
    float[] out = storedSu.clone();
    System.arraycopy(Torch.floats(su), 0, out, 0, cols);
    return out;
  }

  /** SV as stored, with the trained values over the real rows. */
  float[] svNow() {
    float[] out = storedSv.clone();
    System.arraycopy(Torch.floats(sv), 0, out, 0, rows);
    return out;
  }

  /** The stored parts with the current SU and SV written back (padding entries unchanged). */
  QuantizedGroup storedNow() {
    return source.get().withSigns(suNow(), svNow());
  }
}
