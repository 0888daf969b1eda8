package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpCuda;
import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.NativeCalls;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * A quantized weight matrix: codes (one per 8 weights, in native memory), the two sign vectors and the
 * global scale. Its effective weight is {@code diag(s_out) M_m (scale·W̃) M_nᵀ diag(s_in)}
 * (QUIPSHARP.md §1.4 step 7), where W̃ is the decoded codebook matrix. Shapes that the reference
 * refuses are padded as {@link QuantShape} describes; the matrix still acts as rows×cols.
 *
 * <p>Owns native memory: close it (try-with-resources). Every method of a closed instance throws
 * {@link IllegalStateException}. Thread-safe: concurrent calls may overlap; {@link #close} waits for
 * calls in flight.
 */
public final class QuantizedLinear implements AutoCloseable {
  private final int rows;
  private final int cols;
  private final QuantShape shape;
  private final QuantConfig config;
  private final double scale;
  private final IntPointer codes;
  private final FloatPointer signsIn;
  private final FloatPointer signsOut;
  private final CloseGuard guard;

  private QuantizedLinear(
      QuantShape shape, QuantConfig config, int[] codes, float[] sIn, float[] sOut, double scale) {
    this.rows = shape.rows();
    this.cols = shape.cols();
    this.shape = shape;
    this.config = config;
    this.scale = scale;
    this.codes = new IntPointer(codes.length);
    this.signsIn = new FloatPointer(sIn.length);
    this.signsOut = new FloatPointer(sOut.length);
    this.codes.put(codes);
    this.signsIn.put(sIn);
    this.signsOut.put(sOut);
    this.guard = new CloseGuard("QuantizedLinear (" + rows + " x " + cols + ")");
  }

  /**
   * Rebuilds a quantized matrix from its parts (as stored in a checkpoint). {@code codes} holds
   * {@link QuantShape#codeCount()} composite codes, row-major over the padded rhtRows×codeCols matrix
   * (E8P12: 16-bit codes; 3/4 bits: stage-1 code « 16 | stage-2 code); {@code signsIn} has rhtCols
   * and {@code signsOut} rhtRows entries.
   */
  public static QuantizedLinear fromParts(
      int rows, int cols, QuantConfig config, int[] codes, float[] signsIn, float[] signsOut,
      double scale) {
    Checks.notNull(config, "config");
    Checks.notNull(codes, "codes");
    Checks.notNull(signsIn, "signsIn");
    Checks.notNull(signsOut, "signsOut");
    QuantShape shape = QuantShape.of(rows, cols, config.incoherence());
    Checks.length(codes.length, shape.codeCount(), "codes", "codes of " + shape.describe());
    Checks.length(signsIn.length, shape.rhtCols(), "signsIn", "padded cols of " + shape.describe());
    Checks.length(signsOut.length, shape.rhtRows(), "signsOut", "padded rows of " + shape.describe());
    Checks.finite(signsIn, "signsIn");
    Checks.finite(signsOut, "signsOut");
    if (!Double.isFinite(scale)) {
      throw new IllegalArgumentException("scale = " + scale + " must be finite");
    }
    return new QuantizedLinear(shape, config, codes, signsIn, signsOut, scale);
  }

  /** The padded internal shape (§10.6). */
  public QuantShape shape() {
    return shape;
  }

  public int rows() {
    return rows;
  }

  public int cols() {
    return cols;
  }

  public int bits() {
    return config.bits();
  }

  public QuantConfig config() {
    return config;
  }

  /** The global scale (Wscale of §1.4 step 5). */
  public double scale() {
    return scale;
  }

  /** A copy of the codes, {@link QuantShape#codeCount()} of them, row-major (rhtRows×codeCols/8). */
  public int[] codes() {
    return guard.read(
        () -> {
          int[] out = new int[shape.codeCount()];
          codes.get(out);
          return out;
        });
  }

  /** A copy of s_in (length rhtCols). */
  public float[] signsIn() {
    return guard.read(
        () -> {
          float[] out = new float[shape.rhtCols()];
          signsIn.get(out);
          return out;
        });
  }

  /** A copy of s_out (length rhtRows). */
  public float[] signsOut() {
    return guard.read(
        () -> {
          float[] out = new float[shape.rhtRows()];
          signsOut.get(out);
          return out;
        });
  }

  /** The effective dense weight, rows×cols row-major. */
  public float[] decode() {
    return guard.read(
        () -> {
          int size = Checks.product(rows, cols, "decoded matrix");
          try (FloatPointer out = new FloatPointer(size)) {
            try (QuipsharpNative.qs_qlinear_desc desc = describe()) {
              NativeCalls.check(QuipsharpNative.qs_qlinear_decode(desc, out), "QuantizedLinear.decode");
            }
            float[] result = new float[size];
            out.get(result);
            return result;
          }
        });
  }

  /**
   * y = Ŵ x for each length-cols vector of {@code x} (x.length a multiple of cols), decoding the codes
   * on the fly (§7.1); returns the outputs, x.length/cols vectors of length rows.
   */
  public float[] matvec(float[] x) {
    Checks.notNull(x, "x");
    Checks.multipleOf(x.length, cols, "x", "cols = " + cols);
    return guard.read(
        () -> {
          int batch = x.length / cols;
          int outSize = Checks.product(batch, rows, "matvec output");
          try (FloatPointer in = new FloatPointer(x);
              FloatPointer out = new FloatPointer(outSize)) {
            try (QuipsharpNative.qs_qlinear_desc desc = describe()) {
              NativeCalls.check(QuipsharpNative.qs_qlinear_matvec(desc, in, batch, out),
                  "QuantizedLinear.matvec");
            }
            float[] result = new float[outSize];
            out.get(result);
            return result;
          }
        });
  }

  /**
   * tr((W−Ŵ) H (W−Ŵ)ᵀ) of this matrix against the original {@code w} (rows×cols) under {@code
   * hessian} (cols×cols; null = identity).
   */
  public double proxyLoss(float[] w, float[] hessian) {
    Checks.notNull(w, "w");
    Checks.length(w.length, (long) rows * cols, "w", "rows * cols");
    if (hessian != null) {
      Checks.length(hessian.length, (long) cols * cols, "hessian", "cols * cols");
    }
    return Quantizer.proxyLoss(w, decode(), rows, cols, hessian);
  }

  /** proxyLoss(w, H) / tr(W H Wᵀ): the relative proxy loss that the reference logs (§5.4). */
  public double relativeProxyLoss(float[] w, float[] hessian) {
    double loss = proxyLoss(w, hessian);
    double norm = Quantizer.proxyLoss(w, new float[w.length], rows, cols, hessian);
    return norm == 0 ? (loss == 0 ? 0 : Double.POSITIVE_INFINITY) : loss / norm;
  }

  /**
   * The codes packed as the reference kernels read them (Qidxs of §8.4), as little-endian 64-bit
   * words, for a {@link QuantShape#packedRows()} × {@link QuantShape#packedCols()} matrix: the padded
   * codes, then zero codes up to the multiples of 16 rows and 64 columns that the layout needs (their
   * inputs are zero and their outputs dropped).
   */
  public long[] packedCodes() {
    return guard.read(
        () -> {
          int pr = shape.packedRows();
          int pc = shape.packedCols();
          long words = QuipsharpNative.qs_packed_words(config.codebookId(), pr, pc);
          long[] out = new long[Math.toIntExact(words)];
          int[] c = new int[shape.codeCount()];
          codes.get(c);
          int[] padded = padCodes(c, shape.rhtRows(), shape.codeCols() / 8, pr, pc / 8);
          NativeCalls.check(
              QuipsharpNative.qs_pack_codes(config.codebookId(), padded, pr, pc, out),
              "QuantizedLinear.packedCodes");
          return out;
        });
  }

  /** rows×cols codes (row-major) into a zero-filled toRows×toCols array. */
  static int[] padCodes(int[] codes, int rows, int cols, int toRows, int toCols) {
    if (rows == toRows && cols == toCols) {
      return codes;
    }
    int[] out = new int[Checks.product(toRows, toCols, "packed codes")];
    for (int r = 0; r < rows; r++) {
      System.arraycopy(codes, r * cols, out, r * toCols, cols);
    }
    return out;
  }

  /**
   * Rebuilds the codes of {@link #packedCodes()} (the inverse: unpacks and drops the kernel-layout
   * padding) for a matrix of the given shape and codebook.
   */
  public static int[] unpackCodes(long[] words, QuantShape shape, QuantConfig config) {
    Checks.notNull(words, "words");
    int pr = shape.packedRows();
    int pc = shape.packedCols();
    NativeCalls.ensureLoaded();
    long expected = QuipsharpNative.qs_packed_words(config.codebookId(), pr, pc);
    Checks.length(words.length, expected, "words", "packed words of " + shape.describe());
    int[] all = new int[Checks.product(pr, pc / 8, "codes")];
    NativeCalls.check(
        QuipsharpNative.qs_unpack_codes(config.codebookId(), words, pr, pc, all),
        "QuantizedLinear.unpackCodes");
    int cols = shape.codeCols() / 8;
    int[] out = new int[shape.codeCount()];
    for (int r = 0; r < shape.rhtRows(); r++) {
      System.arraycopy(all, r * (pc / 8), out, r * cols, cols);
    }
    return out;
  }

  /** This matrix prepared for CPU inference with the fastest kernels the CPU has. */
  public CpuLinear toCpu() {
    return toCpu(CpuKernel.AUTO);
  }

  /** This matrix prepared for CPU inference with the given kernel family (it must be available). */
  public CpuLinear toCpu(CpuKernel kernel) {
    Checks.notNull(kernel, "kernel");
    if (!kernel.isAvailable()) {
      throw new IllegalArgumentException("kernel " + kernel + " is not available on this CPU");
    }
    return guard.read(
        () -> {
          QuipsharpNative.qs_qlayer layer = new QuipsharpNative.qs_qlayer();
          try (QuipsharpNative.qs_qlinear_desc desc = describe()) {
            NativeCalls.check(QuipsharpNative.qs_qlayer_create(desc, layer), "QuantizedLinear.toCpu");
          }
          return new CpuLinear(rows, cols, kernel, layer);
        });
  }

  /** This matrix on the first CUDA device ({@link CudaDevice#get(int) CudaDevice.get(0)}). */
  public CudaLinear toCuda() {
    return toCuda(CudaDevice.get(0));
  }

  /**
   * This matrix prepared for inference on a CUDA device (QUIPSHARP.md §7.2): the returned layer owns
   * device memory and must be closed. Throws {@link NativeOutOfMemoryException} when device (or
   * host) memory runs out, {@link QuipsharpException} when the device cannot be used (no driver, a
   * CUDA error), {@link IllegalArgumentException} for a shape the device cannot run (a Hadamard
   * length beyond its shared memory).
   */
  public CudaLinear toCuda(CudaDevice device) {
    Checks.notNull(device, "device");
    CudaCalls.ensureLoaded();
    return guard.read(
        () -> {
          QuipsharpCuda.qs_cuda_layer layer = new QuipsharpCuda.qs_cuda_layer();
          try (QuipsharpNative.qs_qlinear_desc desc = describe()) {
            CudaCalls.check(QuipsharpCuda.qs_cuda_layer_create(device.index(), desc, layer),
                "QuantizedLinear.toCuda");
          }
          return new CudaLinear(rows, cols, device, layer);
        });
  }

  /**
   * The native description of this matrix (qs_qlinear_desc), borrowing its native parts: for the
   * engine, inside a {@code guard.read} (or {@link #withDescription}), closed after the call.
   */
  private QuipsharpNative.qs_qlinear_desc describe() {
    QuipsharpNative.qs_qlinear_desc d = new QuipsharpNative.qs_qlinear_desc();
    d.codebook_id(config.codebookId());
    d.resid_scale(config.residualScale());
    d.codes(codes);
    d.rows(rows);
    d.cols(cols);
    d.s_in(signsIn);
    d.s_out(signsOut);
    d.wscale(scale);
    d.use_rht(config.incoherence() ? 1 : 0);
    return d;
  }

  /** Runs {@code body} with this matrix's native description (valid only inside it). */
  <T> T withDescription(java.util.function.Function<QuipsharpNative.qs_qlinear_desc, T> body) {
    return guard.read(() -> {
      try (QuipsharpNative.qs_qlinear_desc d = describe()) {
        return body.apply(d);
      }
    });
  }

  /** Whether {@link #close} has been called. */
  public boolean isClosed() {
    return guard.isClosed();
  }

  /** Frees the native memory; idempotent. */
  @Override
  public void close() {
    guard.close(
        () -> {
          codes.close();
          signsIn.close();
          signsOut.close();
        });
  }

  @Override
  public String toString() {
    return "QuantizedLinear[" + rows + " x " + cols + ", " + config.bits() + " bits"
        + (isClosed() ? ", closed]" : "]");
  }
}
