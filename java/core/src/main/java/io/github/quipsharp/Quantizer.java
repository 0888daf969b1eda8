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
   * Quantizes {@code w} (rows×cols, row-major) for inputs with second-moment matrix {@code hessian}
   * (cols×cols, row-major, symmetric positive semi-definite; {@code null} means the identity).
   *
   * <p>Any shape quantizes: dimensions that are not supported Hadamard orders, or not multiples of 8,
   * are padded as {@link QuantShape} describes (QUIPSHARP.md §10.6).
   *
   * @throws IllegalArgumentException on wrong lengths, non-finite values or a non-symmetric Hessian
   *     (the message names the argument and the value)
   * @throws NotPositiveDefiniteException if the Hessian is not positive definite even after damping
   */
  public static QuantizedLinear quantize(
      float[] w, int rows, int cols, float[] hessian, QuantConfig cfg) {
    Checks.notNull(w, "w");
    Checks.notNull(cfg, "cfg");
    Checks.positive(rows, "rows");
    Checks.positive(cols, "cols");
    Checks.length(w.length, (long) rows * cols, "w", "rows * cols = " + rows + " * " + cols);
    if (hessian != null) {
      Checks.length(hessian.length, (long) cols * cols, "hessian", "cols * cols = " + cols + "²");
    }
    Checks.finite(w, "w");
    if (hessian != null) {
      Checks.finite(hessian, "hessian");
    }
    QuantShape shape = QuantShape.of(rows, cols, cfg.incoherence());
    int[] codes = new int[shape.codeCount()];
    float[] sIn = new float[shape.rhtCols()];
    float[] sOut = new float[shape.rhtRows()];
    double[] wscale = new double[1];
    try (QuipsharpNative.qs_quant_params p = new QuipsharpNative.qs_quant_params()) {
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
      NativeCalls.check(
          QuipsharpNative.qs_quantize_matrix(w, rows, cols, hessian, p, codes, sIn, sOut, wscale),
          "Quantizer.quantize(" + rows + " x " + cols + ")");
    }
    return QuantizedLinear.fromParts(rows, cols, cfg, codes, sIn, sOut, wscale[0]);
  }

  /**
   * The proxy loss tr((W−Ŵ) H (W−Ŵ)ᵀ) (§1.1) of any two rows×cols matrices; {@code hessian} null
   * means the identity.
   */
  public static double proxyLoss(float[] w, float[] wHat, int rows, int cols, float[] hessian) {
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
}
