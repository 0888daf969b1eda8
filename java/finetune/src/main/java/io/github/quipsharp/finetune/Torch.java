package io.github.quipsharp.finetune;

import io.github.quipsharp.model.Tensor;
import java.nio.ByteBuffer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * libtorch plumbing: loading, the device tensors are made on, tensors from and to Java arrays and
 * mapped buffers, and moving a result out of a short-lived {@link PointerScope}.
 */
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

  private static volatile FineTuneOptions.Device deviceKind = FineTuneOptions.Device.CPU;
  private static Device device;
  private static Device cpu;

  /**
   * Makes {@code d} the device of the tensors made from now on (one tuning at a time per process).
   *
   * @throws FineTuneException if it is CUDA and libtorch sees no CUDA device
   */
  static synchronized void use(FineTuneOptions.Device d) {
    load();
    if (cpu == null) {
      cpu = new Device(DeviceType.CPU);
    }
    if (d == FineTuneOptions.Device.CUDA) {
      if (!cudaAvailable()) {
        throw new FineTuneException("libtorch sees no CUDA device (this build of "
            + "org.bytedeco:pytorch is the CPU one, or there is no GPU and driver)",
            FineTuneException.Remedy.USE_THE_CPU_DEVICE, null);
      }
      device = new Device(DeviceType.CUDA, (byte) 0);
    } else {
      device = cpu;
    }
    deviceKind = d;
  }

  /** Whether libtorch can run on a CUDA device here. */
  static boolean cudaAvailable() {
    load();
    return torch.cuda_is_available();
  }

  static FineTuneOptions.Device deviceKind() {
    return deviceKind;
  }

  /** {@code t} on the current device (itself when that is the CPU). */
  static org.bytedeco.pytorch.Tensor onDevice(org.bytedeco.pytorch.Tensor t) {
    if (deviceKind == FineTuneOptions.Device.CPU) {
      return t;
    }
    org.bytedeco.pytorch.Tensor out;
    try (PointerScope scope = new PointerScope()) {
      out = t.to(device, t.scalar_type());
      out.retainReference();
    }
    return out;
  }

  /** A host copy of {@code t} as {@code type}, contiguous. */
  static org.bytedeco.pytorch.Tensor onHost(org.bytedeco.pytorch.Tensor t, ScalarType type) {
    org.bytedeco.pytorch.Tensor d = t.detach();
    return (d.is_cuda() ? d.to(cpu, type) : d.to(type)).contiguous();
  }

  /**
   * Runs {@code body} in its own pointer scope, so that every tensor it makes (views included,
   * which keep their storage alive) is released when it returns, except its result, which moves to
   * the enclosing scope (or to the caller when there is none).
   */
  static org.bytedeco.pytorch.Tensor scoped(java.util.function.Supplier<org.bytedeco.pytorch.Tensor> body) {
    PointerScope outer = PointerScope.getInnerScope();
    org.bytedeco.pytorch.Tensor out;
    try (PointerScope inner = new PointerScope()) {
      out = body.get();
      out.retainReference();
    }
    if (outer != null) {
      outer.attach(out);
      out.releaseReference();
    }
    return out;
  }

  /**
   * The result of {@code body}, owned by the caller alone like the factories' results (in no
   * pointer scope; freed by {@code releaseReference}); the temporaries of {@code body} are freed.
   */
  static org.bytedeco.pytorch.Tensor owned(java.util.function.Supplier<org.bytedeco.pytorch.Tensor> body) {
    org.bytedeco.pytorch.Tensor out;
    try (PointerScope inner = new PointerScope()) {
      out = body.get();
      out.retainReference();
    }
    return out;
  }

  /**
   * Hands {@code t}, a tensor the caller owns alone (as the factories here return them), to the
   * innermost open pointer scope, which frees it when it closes; with no scope open the caller
   * keeps it. For tensors made at every step, which would otherwise wait for a garbage collection
   * (JavaCPP does not count libtorch's memory).
   */
  static org.bytedeco.pytorch.Tensor toScope(org.bytedeco.pytorch.Tensor t) {
    PointerScope scope = PointerScope.getInnerScope();
    if (scope != null) {
      scope.attach(t);
      t.releaseReference();
    }
    return t;
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
    return onDevice(out);
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
    return onDevice(out);
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
    return onDevice(out);
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
    return onDevice(out);
  }

  /** The values of a tensor (any float type, any layout) as floats, row-major. */
  static float[] floats(org.bytedeco.pytorch.Tensor t) {
    float[] out = new float[Math.toIntExact(t.numel())];
    try (PointerScope scope = new PointerScope()) {
      org.bytedeco.pytorch.Tensor c = onHost(t, ScalarType.Float);
      new FloatPointer(c.data_ptr()).get(out);
    }
    return out;
  }

  static double[] doubles(org.bytedeco.pytorch.Tensor t) {
    double[] out = new double[Math.toIntExact(t.numel())];
    try (PointerScope scope = new PointerScope()) {
      org.bytedeco.pytorch.Tensor c = onHost(t, ScalarType.Double);
      new DoublePointer(c.data_ptr()).get(out);
    }
    return out;
  }

  /** Mean over the last dimension, kept. */
  static org.bytedeco.pytorch.Tensor meanLast(org.bytedeco.pytorch.Tensor t) {
    return t.mean(new long[] {-1}, true, new ScalarTypeOptional());
  }
}
