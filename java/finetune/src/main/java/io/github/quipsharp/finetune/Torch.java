package io.github.quipsharp.finetune;

import io.github.quipsharp.model.Tensor;
import java.nio.ByteBuffer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** libtorch plumbing: loading, tensors from and to Java arrays and mapped buffers. */
final class Torch {
  private static volatile boolean loaded;

  private Torch() {}

  /** Loads libtorch (unpacked into ~/.javacpp/cache on first use). */
  static void load() {
    if (!loaded) {
      synchronized (Torch.class) {
        if (!loaded) {
          try {
            Loader.load(torch.class);
            // libtorch runs its own intra-op threads around BLAS calls; OpenBLAS's threads on top
            // of them spin against each other (10-50x slower small matmuls on 2 cores).
            Loader.load(org.bytedeco.openblas.global.openblas_full.class);
            org.bytedeco.openblas.global.openblas_full.openblas_set_num_threads(1);
          } catch (UnsatisfiedLinkError e) {
            throw new IllegalStateException("libtorch (org.bytedeco:pytorch) could not be loaded: "
                + e.getMessage(), e);
          }
          loaded = true;
        }
      }
    }
  }

  private static volatile Integer threads;

  /** Sets libtorch's intra-op threads for the following fine-tuning (null: automatic). */
  static void threads(Integer n) {
    if (n != null && n < 1) {
      throw new IllegalArgumentException("threads = " + n + " must be >= 1");
    }
    threads = n;
  }

  /**
   * Applies the thread count for a model of width {@code dim}: the one set, else 1 for small
   * models (libtorch's per-op threading costs more than the work at dim 64: a 2-window step of
   * stories260K is ~5x faster on one thread on 2 cores) and all cores from dim 1024 up.
   */
  static void applyThreads(int dim) {
    load();
    Integer n = threads;
    torch.set_num_threads(n != null ? n : dim < 1024 ? 1 : Runtime.getRuntime().availableProcessors());
  }

  static TensorOptions options(ScalarType t) {
    return new TensorOptions(t);
  }

  /** A libtorch-owned copy of {@code data} with this shape, as {@code type} (Float or Double). */
  static org.bytedeco.pytorch.Tensor of(float[] data, ScalarType type, long... shape) {
    load();
    org.bytedeco.pytorch.Tensor out;
    try (PointerScope scope = new PointerScope()) {
      FloatPointer p = new FloatPointer(data);
      out = torch.from_blob(p, shape, options(ScalarType.Float)).to(type).clone();
      out.retainReference();
    }
    return out;
  }

  static org.bytedeco.pytorch.Tensor of(float[] data, long... shape) {
    return of(data, ScalarType.Float, shape);
  }

  static org.bytedeco.pytorch.Tensor ofDoubles(double[] data, long... shape) {
    load();
    org.bytedeco.pytorch.Tensor out;
    try (PointerScope scope = new PointerScope()) {
      DoublePointer p = new DoublePointer(data);
      out = torch.from_blob(p, shape, options(ScalarType.Double)).clone();
      out.retainReference();
    }
    return out;
  }

  /** Token ids as an int64 tensor of this shape. */
  static org.bytedeco.pytorch.Tensor tokens(int[] ids, long... shape) {
    load();
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      l[i] = ids[i];
    }
    org.bytedeco.pytorch.Tensor out;
    try (PointerScope scope = new PointerScope()) {
      LongPointer p = new LongPointer(l);
      out = torch.from_blob(p, shape, options(ScalarType.Long)).clone();
      out.retainReference();
    }
    return out;
  }

  /**
   * A model tensor (memory-mapped fp32/fp16/bf16 file data) converted by libtorch into its own
   * {@code type} tensor: the file's bytes reach libtorch directly, with no Java heap copy.
   */
  static org.bytedeco.pytorch.Tensor of(Tensor t, ScalarType type) {
    load();
    ScalarType src = switch (t.dtype()) {
      case F32 -> ScalarType.Float;
      case F16 -> ScalarType.Half;
      case BF16 -> ScalarType.BFloat16;
      default -> throw new IllegalArgumentException(t.name() + ": dtype " + t.dtype()
          + " is not a weight dtype");
    };
    ByteBuffer data = t.data();
    org.bytedeco.pytorch.Tensor out;
    try (PointerScope scope = new PointerScope()) {
      BytePointer p = new BytePointer(data);
      out = torch.from_blob(p, t.shape(), options(src)).to(type).clone();
      out.retainReference();
    }
    return out;
  }

  /** The values of a tensor (any float type, any layout) as floats, row-major. */
  static float[] floats(org.bytedeco.pytorch.Tensor t) {
    float[] out = new float[Math.toIntExact(t.numel())];
    try (PointerScope scope = new PointerScope()) {
      org.bytedeco.pytorch.Tensor c = t.detach().to(ScalarType.Float).contiguous();
      new FloatPointer(c.data_ptr()).get(out);
    }
    return out;
  }

  static double[] doubles(org.bytedeco.pytorch.Tensor t) {
    double[] out = new double[Math.toIntExact(t.numel())];
    try (PointerScope scope = new PointerScope()) {
      org.bytedeco.pytorch.Tensor c = t.detach().to(ScalarType.Double).contiguous();
      new DoublePointer(c.data_ptr()).get(out);
    }
    return out;
  }

  /** Mean over the last dimension, kept. */
  static org.bytedeco.pytorch.Tensor meanLast(org.bytedeco.pytorch.Tensor t) {
    return t.mean(new long[] {-1}, true, new ScalarTypeOptional());
  }
}
