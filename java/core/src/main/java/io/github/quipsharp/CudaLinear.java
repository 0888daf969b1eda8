package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpCuda;
import io.github.quipsharp.internal.Checks;

/**
 * A {@link QuantizedLinear} on a CUDA device (QUIPSHARP.md §7.1): the codes in the device layout of
 * the fused decode + mat-vec kernel, the sign vectors and scale, and the Hadamard bases. Batch 1 to
 * 16 runs the fused kernel (the codes are read once per 8 vectors); larger batches decompress the
 * matrix to fp16 and multiply on the tensor cores. The rotated input is rounded to fp16 (with a
 * power-of-two scale per vector), so results differ from {@link QuantizedLinear#matvec} by about
 * 2^-11 relative. Create it with {@link QuantizedLinear#toCuda(CudaDevice)}. Owns device memory:
 * close it. Thread-safe (calls on one layer are serialised); methods of a closed instance throw
 * {@link IllegalStateException}.
 */
public final class CudaLinear implements AutoCloseable {
  private final int rows;
  private final int cols;
  private final CudaDevice device;
  private final QuipsharpCuda.qs_cuda_layer layer;
  private final CloseGuard guard;

  CudaLinear(int rows, int cols, CudaDevice device, QuipsharpCuda.qs_cuda_layer layer) {
    this.rows = rows;
    this.cols = cols;
    this.device = device;
    this.layer = layer;
    this.guard = new CloseGuard("CudaLinear (" + rows + " x " + cols + ")");
  }

  public int rows() {
    return rows;
  }

  public int cols() {
    return cols;
  }

  public CudaDevice device() {
    return device;
  }

  /** Bytes of codes one pass of the fused kernel reads. */
  public long weightBytes() {
    return guard.read(() -> QuipsharpCuda.qs_cuda_layer_weight_bytes(layer));
  }

  /** Device memory this layer holds (codes, tables, scratch). */
  public long deviceBytes() {
    return guard.read(() -> QuipsharpCuda.qs_cuda_layer_device_bytes(layer));
  }

  /** y = Ŵ x for each length-cols vector of x (x.length a multiple of cols), as CpuLinear.matvec. */
  public float[] matvec(float[] x) {
    Checks.notNull(x, "x");
    Checks.multipleOf(x.length, cols, "x", "cols = " + cols);
    return matmul(x, x.length / cols);
  }

  /** y (batch × rows) = Ŵ x for x (batch × cols), row-major. */
  public float[] matmul(float[] x, int batch) {
    Checks.notNull(x, "x");
    if (batch <= 0) {
      throw new IllegalArgumentException("batch = " + batch + " must be positive");
    }
    if ((long) batch * cols != x.length) {
      throw new IllegalArgumentException(
          "x has " + x.length + " values, expected batch * cols = " + batch + " * " + cols);
    }
    Checks.finite(x, "x");
    return guard.read(
        () -> {
          float[] y = new float[Checks.product(batch, rows, "matmul output")];
          CudaCalls.check(QuipsharpCuda.qs_cuda_layer_matmul(layer, x, batch, y), "CudaLinear.matmul");
          return y;
        });
  }

  @Override
  public void close() {
    guard.close(() -> QuipsharpCuda.qs_cuda_layer_free(layer));
  }

  @Override
  public String toString() {
    return "CudaLinear[" + rows + " x " + cols + " on " + device.name() + "]";
  }
}
