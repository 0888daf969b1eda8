package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.model.ModelSource;
import org.junit.jupiter.api.Test;

/**
 * Hessians of stories260K on a short text: symmetric, positive semi-definite, and for layer 0's q/k/v
 * input (the RMS-normed embeddings, computable here without the engine) equal to a direct float64
 * Σ x xᵀ.
 */
class HessianTest {
  @Test
  void hessiansMatchADirectComputationAndArePsd() {
    StoriesFixture f = StoriesFixture.load();
    int[] tokens = java.util.Arrays.copyOf(f.all, 40);
    try (ModelSource src = ModelSource.open(f.model); LlamaModel m = LlamaModel.load(f.model)) {
      m.startHessians(0, m.config().layers());
      m.forward(java.util.Arrays.copyOf(tokens, 20), 0, false);
      m.forward(java.util.Arrays.copyOfRange(tokens, 20, 40), 0, false);
      int dim = m.config().dim();
      float[] emb = src.tensor("model.embed_tokens.weight").toFloats();
      float[] norm = src.tensor("model.layers.0.input_layernorm.weight").toFloats();
      double[] direct = new double[dim * dim];
      for (int t : tokens) {
        double ss = 0;
        for (int i = 0; i < dim; i++) {
          ss += (double) emb[t * dim + i] * emb[t * dim + i];
        }
        double inv = 1 / Math.sqrt(ss / dim + m.config().normEps());
        double[] x = new double[dim];
        for (int i = 0; i < dim; i++) {
          x[i] = norm[i] * emb[t * dim + i] * inv;
        }
        for (int i = 0; i < dim; i++) {
          for (int j = 0; j < dim; j++) {
            direct[i * dim + j] += x[i] * x[j];
          }
        }
      }
      HessianSum h0 = m.hessian(0, LinearGroup.QKV);
      assertEquals(40, h0.tokens());
      double scale = 0;
      for (double v : direct) {
        scale = Math.max(scale, Math.abs(v));
      }
      for (int i = 0; i < direct.length; i++) {
        assertEquals(direct[i], h0.sum()[i], 1e-5 * scale, "entry " + i);
      }
      for (int l = 0; l < m.config().layers(); l++) {
        for (LinearGroup g : LinearGroup.values()) {
          HessianSum h = m.hessian(l, g);
          assertEquals(40, h.tokens());
          assertEquals(m.groupCols(g), h.n());
          assertPsd(h.sum(), h.n(), "layer " + l + " " + g.key());
        }
      }
      m.stopHessians();
    }
  }

  /** Symmetric, and Cholesky of H + 1e-9·tr(H)/n·I succeeds (eigenvalues ≥ −1e-9·mean). */
  static void assertPsd(double[] h, int n, String what) {
    double trace = 0;
    for (int i = 0; i < n; i++) {
      trace += h[i * n + i];
      for (int j = 0; j < n; j++) {
        assertEquals(h[i * n + j], h[j * n + i], 0.0, what + " symmetric");
      }
    }
    double[] a = h.clone();
    double eps = 1e-9 * trace / n;
    for (int j = 0; j < n; j++) {
      double d = a[j * n + j] + eps;
      for (int k = 0; k < j; k++) {
        d -= a[j * n + k] * a[j * n + k];
      }
      assertTrue(d > 0, what + ": not positive semi-definite at pivot " + j + " (" + d + ")");
      double r = Math.sqrt(d);
      a[j * n + j] = r;
      for (int i = j + 1; i < n; i++) {
        double s = a[i * n + j];
        for (int k = 0; k < j; k++) {
          s -= a[i * n + k] * a[j * n + k];
        }
        a[i * n + j] = s / r;
      }
    }
  }
}
