package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.NativeCalls;

/**
 * The whole QuIP# recipe for one weight matrix (QUIPSHARP.md §1.4 with one matrix per input): damp
 * the Hessian, randomized Hadamard transform on both sides, global scale, BlockLDLQ (or nearest)
 * rounding to the configured codebook, refinement passes.
 */
public final class Quantizer {
  private Quantizer() {}

  /**
   * A quantized matrix with the proxy loss of its effective weight Ŵ against the original W (§1.1),
   * tr((W−Ŵ) H (W−Ŵ)ᵀ), and its normalizer tr(W H Wᵀ), both under the mean Hessian the matrix was
   * quantized for. Owns {@link #linear()}: close it.
   */
  public record Result(QuantizedLinear linear, double proxyLoss, double proxyNorm)
      implements AutoCloseable {
    /**
     * proxyLoss / proxyNorm: the relative proxy loss that the reference logs (§5.4); 0 when both
     * are 0, infinite when only the normalizer is.
     */
    public double relativeProxyLoss() {
      return proxyNorm == 0 ? (proxyLoss == 0 ? 0 : Double.POSITIVE_INFINITY) : proxyLoss / proxyNorm;
    }

    @Override
    public void close() {
      linear.close();
    }
  }

  /**
   * Quantizes {@code w} (rows×cols, row-major) for inputs whose Hessian sum is {@code hessianSum}
   * (cols×cols, row-major, float64: Σ x xᵀ over {@code tokens} ≥ 1 input vectors, symmetric positive
   * semi-definite; the mean H = sum / tokens is formed in float64 natively), or for H = the identity
   * when {@code hessianSum} is null ({@code tokens} then ignored). {@code rowScale} (null, or rows
   * values) gives each row's real scale for the reported loss, when w holds members divided by their
   * RMS (§1.4 step 1); the codes do not depend on it.
   *
   * <p>Any shape quantizes: dimensions that are not supported Hadamard orders, or not multiples of 8,
   * are padded as {@link QuantShape} describes (QUIPSHARP.md §10.6).
   *
   * @throws IllegalArgumentException on wrong lengths, non-finite values, a non-symmetric Hessian or
   *     a token count below 1 (the message names the argument and the value)
   * @throws NotPositiveDefiniteException if the Hessian is not positive definite even after damping
   * @throws NativeOutOfMemoryException if native memory runs out
   */
  public static Result quantize(float[] w, int rows, int cols, double[] hessianSum, long tokens,
      float[] rowScale, QuantConfig cfg) {
    Checks.notNull(w, "w");
    Checks.notNull(cfg, "cfg");
    Checks.positive(rows, "rows");
    Checks.positive(cols, "cols");
    Checks.length(w.length, (long) rows * cols, "w", "rows * cols = " + rows + " * " + cols);
    if (hessianSum != null) {
      Checks.length(hessianSum.length, (long) cols * cols, "hessianSum", "cols * cols = " + cols + "²");
      if (tokens < 1) {
        throw new IllegalArgumentException(
            "tokens = " + tokens + " must be >= 1: the Hessian sum is over no input vector");
      }
    }
    if (rowScale != null) {
      Checks.length(rowScale.length, rows, "rowScale", "rows = " + rows);
      Checks.finite(rowScale, "rowScale");
    }
    Checks.finite(w, "w");
    QuantShape shape = QuantShape.of(rows, cols, cfg.incoherence());
    int[] codes = new int[shape.codeCount()];
    float[] sIn = new float[shape.rhtCols()];
    float[] sOut = new float[shape.rhtRows()];
    try (QuipsharpNative.qs_quant_params p = params(cfg);
        QuipsharpNative.qs_quant_result r = new QuipsharpNative.qs_quant_result()) {
      NativeCalls.check(
          QuipsharpNative.qs_quantize_matrix(w, rows, cols, hessianSum,
              hessianSum == null ? 0 : tokens, rowScale, p, codes, sIn, sOut, r),
          "Quantizer.quantize(" + rows + " x " + cols + ")");
      return new Result(QuantizedLinear.fromParts(rows, cols, cfg, codes, sIn, sOut, r.wscale()),
          r.proxy_loss(), r.proxy_norm());
    }
  }

  /** {@link #quantize(float[], int, int, double[], long, float[], QuantConfig)} without a row scale. */
  public static Result quantize(float[] w, int rows, int cols, double[] hessianSum, long tokens,
      QuantConfig cfg) {
    return quantize(w, rows, cols, hessianSum, tokens, null, cfg);
  }

  /**
   * Quantizes {@code w} (rows×cols, row-major) for inputs with second-moment matrix {@code hessian}
   * (cols×cols, row-major: a mean Hessian, symmetric positive semi-definite; {@code null} means the
   * identity), e.g. a matrix a caller built itself. Calibration Hessians are float64 sums: use
   * {@link #quantize(float[], int, int, double[], long, float[], QuantConfig)}, which also returns
   * the proxy loss.
   *
   * @throws IllegalArgumentException on wrong lengths, non-finite values or a non-symmetric Hessian
   *     (the message names the argument and the value)
   * @throws NotPositiveDefiniteException if the Hessian is not positive definite even after damping
   */
  public static QuantizedLinear quantize(
      float[] w, int rows, int cols, float[] hessian, QuantConfig cfg) {
    if (hessian != null) {
      Checks.length(hessian.length, (long) cols * cols, "hessian", "cols * cols = " + cols + "²");
      Checks.finite(hessian, "hessian");
    }
    return quantize(w, rows, cols, widen(hessian), 1, null, cfg).linear();
  }

  private static QuipsharpNative.qs_quant_params params(QuantConfig cfg) {
    NativeCalls.ensureLoaded();
    QuipsharpNative.qs_quant_params p = new QuipsharpNative.qs_quant_params();
    p.codebook_id(cfg.codebookId());
    p.rounding(
        cfg.rounding() == Rounding.NEAREST
            ? QuipsharpNative.QS_ROUNDING_NEAREST
            : QuipsharpNative.QS_ROUNDING_BLOCK_LDLQ);
    p.refine_passes(cfg.refinePasses());
    p.use_rht(cfg.incoherence() ? 1 : 0);
    p.damping(cfg.damping());
    p.scale_override(cfg.scale());
    p.resid_scale_override(cfg.residualScale());
    p.seed(cfg.seed());
    return p;
  }

  /**
   * The proxy loss tr((W−Ŵ) H (W−Ŵ)ᵀ) (§1.1) of any two rows×cols matrices, summed in float64;
   * {@code hessian} (cols×cols) null means the identity.
   */
  public static double proxyLoss(float[] w, float[] wHat, int rows, int cols, double[] hessian) {
    Checks.notNull(w, "w");
    Checks.notNull(wHat, "wHat");
    Checks.positive(rows, "rows");
    Checks.positive(cols, "cols");
    Checks.length(w.length, (long) rows * cols, "w", "rows * cols");
    Checks.length(wHat.length, (long) rows * cols, "wHat", "rows * cols");
    if (hessian != null) {
      Checks.length(hessian.length, (long) cols * cols, "hessian", "cols * cols");
    }
    NativeCalls.ensureLoaded();
    double[] loss = new double[1];
    NativeCalls.check(
        QuipsharpNative.qs_proxy_loss(w, wHat, rows, cols, hessian, loss), "proxy loss");
    return loss[0];
  }

  /** {@link #proxyLoss(float[], float[], int, int, double[])} for a float Hessian (widened). */
  public static double proxyLoss(float[] w, float[] wHat, int rows, int cols, float[] hessian) {
    if (hessian != null) {
      Checks.length(hessian.length, (long) cols * cols, "hessian", "cols * cols");
    }
    return proxyLoss(w, wHat, rows, cols, widen(hessian));
  }

  private static double[] widen(float[] values) {
    if (values == null) {
      return null;
    }
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }
}
