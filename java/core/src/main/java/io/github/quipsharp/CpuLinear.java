package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.NativeCalls;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A {@link QuantizedLinear} prepared for CPU inference (QUIPSHARP.md §7.1): its codes split per
 * codebook stage for the integer mat-vec kernels (AVX-512 or AVX2 where the CPU has them, else the
 * scalar reference; on AVX-512 both stages of a 3- or 4-bit layer are read in one pass). Create it
 * with {@link QuantizedLinear#toCpu()}.
 *
 * <p>{@link #matvec} differs from {@link QuantizedLinear#matvec} only by the kernels' rounding of the
 * rotated input u to integers ({@link ActivationPrecision}: 8 bits by default, L = 127): each output
 * of the codebook product moves by at most max|u|/(2L) · Σ_j |W̃_rj| (tested). Owns native memory: close it. Thread-safe; methods of a closed
 * instance throw {@link IllegalStateException}.
 */
public final class CpuLinear implements AutoCloseable {
  private final int rows;
  private final int cols;
  private final CpuKernel kernel;
  private final QuipsharpNative.qs_qlayer layer;
  private final CloseGuard guard;

  CpuLinear(int rows, int cols, CpuKernel kernel, QuipsharpNative.qs_qlayer layer) {
    this.rows = rows;
    this.cols = cols;
    this.kernel = kernel;
    this.layer = layer;
    this.guard = new CloseGuard("CpuLinear (" + rows + " x " + cols + ")");
  }

  public int rows() {
    return rows;
  }

  public int cols() {
    return cols;
  }

  /** The kernel family this layer runs with. */
  public CpuKernel kernel() {
    return kernel;
  }

  /** Bytes of codes read per mat-vec (2, 3 or 4 bits per weight). */
  public long weightBytes() {
    return guard.read(() -> QuipsharpNative.qs_qlayer_weight_bytes(layer));
  }

  /** y = Ŵ x for each length-cols vector of x (x.length a multiple of cols). */
  public float[] matvec(float[] x) {
    Checks.notNull(x, "x");
    Checks.multipleOf(x.length, cols, "x", "cols = " + cols);
    Checks.finite(x, "x");
    return guard.read(
        () -> {
          int batch = x.length / cols;
          float[] y = new float[Checks.product(batch, rows, "matvec output")];
          try (FloatPointer in = new FloatPointer(x);
              FloatPointer out = new FloatPointer((long) y.length)) {
            NativeCalls.check(
                QuipsharpNative.qs_qlayer_forward(layer, in, batch, out, kernel.id), "CpuLinear.matvec");
            out.get(y);
          }
          return y;
        });
  }

  @Override
  public void close() {
    guard.close(() -> QuipsharpNative.qs_qlayer_free(layer));
  }
}
