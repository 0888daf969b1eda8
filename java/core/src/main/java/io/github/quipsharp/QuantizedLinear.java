package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * A quantized weight matrix: codes (one per 8 weights, in native memory), the two sign vectors and the
 * global scale. Its effective weight is {@code diag(s_out) M_m (scale·W̃) M_nᵀ diag(s_in)}
 * (QUIPSHARP.md §1.4 step 7), where W̃ is the decoded codebook matrix.
 *
 * <p>Owns native memory: close it (try-with-resources). Every method of a closed instance throws
 * {@link IllegalStateException}. Thread-safe: concurrent calls may overlap; {@link #close} waits for
 * calls in flight.
 */
public final class QuantizedLinear implements AutoCloseable {
  private final int rows;
  private final int cols;
  private final QuantConfig config;
  private final double scale;
  private final IntPointer codes;
  private final FloatPointer signsIn;
  private final FloatPointer signsOut;
  private final CloseGuard guard;

  private QuantizedLinear(
      int rows, int cols, QuantConfig config, int[] codes, float[] sIn, float[] sOut, double scale) {
    this.rows = rows;
    this.cols = cols;
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
   * rows×cols/8 composite codes, row-major (E8P12: 16-bit codes; 3/4 bits: stage-1 code « 16 |
   * stage-2 code).
   */
  public static QuantizedLinear fromParts(
      int rows, int cols, QuantConfig config, int[] codes, float[] signsIn, float[] signsOut,
      double scale) {
    Checks.notNull(config, "config");
    Checks.notNull(codes, "codes");
    Checks.notNull(signsIn, "signsIn");
    Checks.notNull(signsOut, "signsOut");
    Checks.positive(rows, "rows");
    Checks.positive(cols, "cols");
    if (cols % 8 != 0) {
      throw new IllegalArgumentException("cols = " + cols + " must be a multiple of 8");
    }
    Checks.length(codes.length, (long) rows * (cols / 8), "codes", "rows * cols / 8");
    Checks.length(signsIn.length, cols, "signsIn", "cols");
    Checks.length(signsOut.length, rows, "signsOut", "rows");
    Checks.finite(signsIn, "signsIn");
    Checks.finite(signsOut, "signsOut");
    if (!Double.isFinite(scale)) {
      throw new IllegalArgumentException("scale = " + scale + " must be finite");
    }
    NativeCalls.ensureLoaded();
    return new QuantizedLinear(rows, cols, config, codes, signsIn, signsOut, scale);
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

  /** A copy of the codes, rows×cols/8 row-major. */
  public int[] codes() {
    return guard.read(
        () -> {
          int[] out = new int[rows * (cols / 8)];
          codes.get(out);
          return out;
        });
  }

  /** A copy of s_in (length cols). */
  public float[] signsIn() {
    return guard.read(
        () -> {
          float[] out = new float[cols];
          signsIn.get(out);
          return out;
        });
  }

  /** A copy of s_out (length rows). */
  public float[] signsOut() {
    return guard.read(
        () -> {
          float[] out = new float[rows];
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
            NativeCalls.check(
                QuipsharpNative.qs_qlinear_decode(
                    config.codebookId(), config.residualScale(), codes, rows, cols, signsIn,
                    signsOut, scale, config.incoherence() ? 1 : 0, out),
                "QuantizedLinear.decode");
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
            NativeCalls.check(
                QuipsharpNative.qs_qlinear_matvec(
                    config.codebookId(), config.residualScale(), codes, rows, cols, signsIn,
                    signsOut, scale, config.incoherence() ? 1 : 0, in, batch, out),
                "QuantizedLinear.matvec");
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
   * The codes packed as the reference kernels read them (Qidxs of §8.4; rows % 16 == 0 and cols % 64
   * == 0), as little-endian 64-bit words.
   */
  public long[] packedCodes() {
    if (rows % 16 != 0 || cols % 64 != 0) {
      throw new IllegalArgumentException(
          "packing needs rows % 16 == 0 and cols % 64 == 0; this matrix is " + rows + " x " + cols);
    }
    return guard.read(
        () -> {
          long words = QuipsharpNative.qs_packed_words(config.codebookId(), rows, cols);
          long[] out = new long[(int) words];
          int[] c = new int[rows * (cols / 8)];
          codes.get(c);
          NativeCalls.check(
              QuipsharpNative.qs_pack_codes(config.codebookId(), c, rows, cols, out),
              "QuantizedLinear.packedCodes");
          return out;
        });
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
          QuipsharpNative.qs_qlayer layer =
              QuipsharpNative.qs_qlayer_create(config.codebookId(), config.residualScale(), codes,
                  rows, cols, signsIn, signsOut, scale, config.incoherence() ? 1 : 0);
          if (layer == null || layer.isNull()) {
            NativeCalls.check(QuipsharpNative.QS_ERR_INVALID_ARGUMENT, "QuantizedLinear.toCpu");
          }
          return new CpuLinear(rows, cols, kernel, layer);
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
