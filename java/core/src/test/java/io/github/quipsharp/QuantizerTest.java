package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.SyntheticData;
import java.util.Arrays;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class QuantizerTest {
  static final int N = 256;
  static float[] w;
  static float[] correlated;

  @BeforeAll
  static void data() {
    w = SyntheticData.gaussian(N, N, 11);
    // XᵀX / 4096 of 4096 samples whose neighbouring columns have correlation 0.95.
    correlated = SyntheticData.empiricalHessian(N, 4096, 0.95, 12);
  }

  static QuantConfig.Builder cfg() {
    return QuantConfig.builder().bits(2).seed(1).refinePasses(0);
  }

  static double loss(float[] w, int rows, int cols, float[] h, QuantConfig c) {
    try (QuantizedLinear q = Quantizer.quantize(w, rows, cols, h, c)) {
      return q.proxyLoss(w, h);
    }
  }

  static double mse(float[] w, int rows, int cols, QuantConfig c) {
    try (QuantizedLinear q = Quantizer.quantize(w, rows, cols, null, c)) {
      float[] d = q.decode();
      double s = 0;
      for (int i = 0; i < w.length; i++) {
        s += (w[i] - d[i]) * (double) (w[i] - d[i]);
      }
      return s / w.length;
    }
  }

  /** Σ_r s_r² e_r H e_rᵀ in float64 loops (e = a − b, s = rowScale or 1). */
  static double quadratic(float[] a, float[] b, double[] h, float[] rowScale, int rows, int cols) {
    double total = 0;
    double[] e = new double[cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        e[c] = (double) a[r * cols + c] - (b == null ? 0 : b[r * cols + c]);
      }
      double row = 0;
      for (int i = 0; i < cols; i++) {
        double hi = 0;
        for (int j = 0; j < cols; j++) {
          hi += h[i * cols + j] * e[j];
        }
        row += e[i] * hi;
      }
      double s = rowScale == null ? 1 : rowScale[r];
      total += s * s * row;
    }
    return total;
  }

  @Test
  void aHessianSumQuantizesAsItsMeanAndReportsTheProxyLoss() {
    long tokens = 64; // a power of two: sum / tokens is exactly the float mean again
    double[] sum = new double[correlated.length];
    double[] mean = new double[correlated.length];
    for (int i = 0; i < sum.length; i++) {
      sum[i] = correlated[i] * (double) tokens;
      mean[i] = correlated[i];
    }
    QuantConfig c = cfg().refinePasses(1).build();
    float[] rowScale = new float[N];
    for (int r = 0; r < N; r++) {
      rowScale[r] = 0.5f + (r % 3) * 0.25f;
    }
    try (QuantizedLinear fromMean = Quantizer.quantize(w, N, N, correlated, c);
        Quantizer.Result fromSum = Quantizer.quantize(w, N, N, sum, tokens, rowScale, c)) {
      assertArrayEquals(fromMean.codes(), fromSum.linear().codes());
      assertEquals(fromMean.scale(), fromSum.linear().scale());
      float[] dec = fromSum.linear().decode();
      double loss = quadratic(w, dec, mean, rowScale, N, N);
      double norm = quadratic(w, null, mean, rowScale, N, N);
      assertEquals(loss, fromSum.proxyLoss(), 1e-9 * loss);
      assertEquals(norm, fromSum.proxyNorm(), 1e-9 * norm);
      assertEquals(loss / norm, fromSum.relativeProxyLoss(), 1e-9 * loss / norm);
      assertTrue(fromSum.relativeProxyLoss() > 0 && fromSum.relativeProxyLoss() < 0.2,
          "relative proxy loss " + fromSum.relativeProxyLoss());
    }
  }

  @Test
  void aHessianSumNeedsATokenAndItsSize() {
    QuantConfig c = cfg().build();
    double[] sum = new double[N * N];
    IllegalArgumentException none = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> Quantizer.quantize(w, N, N, sum, 0, c));
    assertTrue(none.getMessage().contains("tokens = 0"), none.getMessage());
    IllegalArgumentException size = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> Quantizer.quantize(w, N, N, new double[10], 1, c));
    assertTrue(size.getMessage().contains("hessianSum"), size.getMessage());
    double[] nan = new double[N * N];
    nan[N + 1] = Double.NaN;
    IllegalArgumentException bad = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> Quantizer.quantize(w, N, N, nan, 3, c));
    assertTrue(bad.getMessage().contains("hessian[257]"), bad.getMessage());
  }

  @Test
  void residualCodebooksLowerTheErrorWithEveryBit() {
    double[] m = new double[5];
    for (int bits = 2; bits <= 4; bits++) {
      QuantConfig c =
          cfg().bits(bits).rounding(Rounding.NEAREST).incoherence(false).build();
      m[bits] = mse(w, N, N, c);
    }
    assertTrue(m[4] < m[3] && m[3] < m[2], "MSE 2/3/4 bits: " + Arrays.toString(m));
    // §3.6 / §10.3 values on N(0,1) at the default scales: 0.0917, 0.0296, 0.0097.
    assertEquals(0.0917, m[2], 0.004);
    assertEquals(0.0296, m[3], 0.002);
    assertEquals(0.0097, m[4], 0.0008);
  }

  @Test
  void withIdentityHessianBlockLdlqEqualsNearestRounding() {
    for (int bits = 2; bits <= 4; bits++) {
      try (QuantizedLinear a = Quantizer.quantize(w, N, N, null, cfg().bits(bits).build());
          QuantizedLinear b =
              Quantizer.quantize(w, N, N, null, cfg().bits(bits).rounding(Rounding.NEAREST).build())) {
        assertArrayEquals(b.codes(), a.codes(), "bits " + bits);
      }
    }
  }

  @Test
  void blockLdlqBeatsNearestRoundingOnACorrelatedHessian() {
    for (int bits = 2; bits <= 4; bits++) {
      double ldlq = loss(w, N, N, correlated, cfg().bits(bits).build());
      double nearest = loss(w, N, N, correlated, cfg().bits(bits).rounding(Rounding.NEAREST).build());
      assertTrue(ldlq < 0.9 * nearest, bits + " bits: BlockLDLQ " + ldlq + " vs nearest " + nearest);
    }
  }

  @Test
  void refinePassesNeverIncreaseTheProxyLoss() {
    double previous = Double.MAX_VALUE;
    for (int passes : new int[] {0, 1, 2, 3, 6}) {
      double l = loss(w, N, N, correlated, cfg().refinePasses(passes).build());
      assertTrue(l <= previous * (1 + 1e-6), passes + " passes: " + l + " > " + previous);
      previous = l;
    }
  }

  @Test
  void dampingHandlesASingularHessian() {
    // 16 samples in 256 dimensions: rank 16.
    float[] singular = SyntheticData.empiricalHessian(N, 16, 0.5, 3);
    double l = loss(w, N, N, singular, cfg().build());
    assertTrue(Double.isFinite(l) && l >= 0, "loss " + l);
    double nearest = loss(w, N, N, singular, cfg().rounding(Rounding.NEAREST).build());
    assertTrue(l < nearest, "BlockLDLQ " + l + " vs nearest " + nearest);
  }

  @Test
  void fullRecipeOnA512By1024MatrixAt2Bits() {
    int rows = 512;
    int cols = 1024;
    float[] w2 = SyntheticData.gaussian(rows, cols, 21);
    float[] h = SyntheticData.empiricalHessian(cols, 4096, 0.95, 22);
    QuantConfig quip = QuantConfig.builder().bits(2).seed(5).refinePasses(2).build();
    QuantConfig nearest = quip.toBuilder().rounding(Rounding.NEAREST).refinePasses(0).build();
    try (QuantizedLinear q = Quantizer.quantize(w2, rows, cols, h, quip);
        QuantizedLinear n = Quantizer.quantize(w2, rows, cols, h, nearest)) {
      double relQuip = q.relativeProxyLoss(w2, h);
      double relNearest = n.relativeProxyLoss(w2, h);
      assertTrue(relQuip < relNearest, "QuIP# " + relQuip + " vs RHT + nearest " + relNearest);
      assertTrue(relQuip > 0 && relQuip < 0.2, "relative proxy loss " + relQuip);

      // matvec(x) equals decode()·x, computed here in double.
      float[] dense = q.decode();
      float[] x = SyntheticData.gaussian(3, cols, 23);
      float[] y = q.matvec(x);
      assertEquals(3 * rows, y.length);
      double maxErr = 0;
      double maxAbs = 0;
      for (int b = 0; b < 3; b++) {
        for (int r = 0; r < rows; r++) {
          double s = 0;
          for (int c = 0; c < cols; c++) {
            s += (double) dense[r * cols + c] * x[b * cols + c];
          }
          maxErr = Math.max(maxErr, Math.abs(s - y[b * rows + r]));
          maxAbs = Math.max(maxAbs, Math.abs(s));
        }
      }
      assertTrue(maxErr <= 1e-4 * maxAbs, "max |matvec - decode·x| = " + maxErr + " of " + maxAbs);
    }
  }

  @Test
  void incoherenceProcessingHelpsNearestRoundingOnOutliers() {
    // A matrix with a few huge entries: RHT spreads them, so RHT + nearest beats plain nearest.
    float[] spiky = w.clone();
    for (int i = 0; i < spiky.length; i += 997) {
      spiky[i] *= 40;
    }
    QuantConfig rht = cfg().rounding(Rounding.NEAREST).build();
    QuantConfig plain = rht.toBuilder().incoherence(false).build();
    assertTrue(loss(spiky, N, N, null, rht) < loss(spiky, N, N, null, plain));
  }

  @Test
  void sameSeedSameCodesOtherSeedOtherSigns() {
    QuantConfig a = cfg().seed(42).refinePasses(1).build();
    try (QuantizedLinear q1 = Quantizer.quantize(w, N, N, correlated, a);
        QuantizedLinear q2 = Quantizer.quantize(w, N, N, correlated, a);
        QuantizedLinear q3 = Quantizer.quantize(w, N, N, correlated, a.toBuilder().seed(43).build())) {
      assertArrayEquals(q1.codes(), q2.codes());
      assertArrayEquals(q1.signsIn(), q2.signsIn());
      assertEquals(q1.scale(), q2.scale());
      assertFalse(Arrays.equals(q1.signsIn(), q3.signsIn()));
      assertFalse(Arrays.equals(q1.signsOut(), q3.signsOut()));
      assertFalse(Arrays.equals(q1.codes(), q3.codes()));
    }
  }

  @Test
  void paddedLayerOf172ColumnsMatvecEqualsDecodeTimesX() {
    // stories260K's down_proj: 64 x 172 (172 is a Hadamard order but not a multiple of 8), and an
    // up+gate-like 100 x 64 whose row count is not an order at all (§10.6).
    int[][] shapes = {{64, 172}, {100, 64}};
    for (int[] shape : shapes) {
      int rows = shape[0];
      int cols = shape[1];
      float[] wp = SyntheticData.gaussian(rows, cols, 5);
      float[] h = SyntheticData.empiricalHessian(cols, 2048, 0.9, 6);
      for (int bits = 2; bits <= 4; bits++) {
        try (QuantizedLinear q = Quantizer.quantize(wp, rows, cols, h, cfg().bits(bits).build());
            QuantizedLinear near = Quantizer.quantize(
                wp, rows, cols, h, cfg().bits(bits).rounding(Rounding.NEAREST).build())) {
          assertTrue(q.shape().isPadded(), q.shape().describe());
          float[] dense = q.decode();
          assertEquals(rows * cols, dense.length);
          float[] x = SyntheticData.gaussian(3, cols, 7);
          float[] y = q.matvec(x);
          for (int b = 0; b < 3; b++) {
            for (int r = 0; r < rows; r++) {
              double ref = 0;
              double mag = 0;
              for (int c = 0; c < cols; c++) {
                ref += (double) dense[r * cols + c] * x[b * cols + c];
                mag += Math.abs((double) dense[r * cols + c] * x[b * cols + c]);
              }
              assertEquals(ref, y[b * rows + r], 1e-5 * mag, "row " + r + " of " + q);
            }
          }
          double relative = q.relativeProxyLoss(wp, h);
          assertTrue(relative < near.relativeProxyLoss(wp, h), "BlockLDLQ vs nearest, " + q);
          assertTrue(relative < (bits == 2 ? 0.2 : 0.05), "relative proxy loss " + relative);
        }
      }
    }
  }

  @Test
  void accessorsDescribeTheMatrix() {
    try (QuantizedLinear q = Quantizer.quantize(w, N, N, null, cfg().bits(3).build())) {
      assertEquals(N, q.rows());
      assertEquals(N, q.cols());
      assertEquals(3, q.bits());
      assertEquals(N * N / 8, q.codes().length);
      // 3 bits: rows*cols*3/64 words (§8.4).
      assertEquals(N * N * 3 / 64, q.packedCodes().length);
    }
  }

  @Test
  void zeroMatrixDecodesToZero() {
    try (QuantizedLinear q = Quantizer.quantize(new float[64 * 64], 64, 64, null, cfg().build())) {
      assertEquals(0.0, q.scale());
      for (float v : q.decode()) {
        assertEquals(0.0, v, 0.0, "decoded entry of an all-zero matrix");
      }
    }
  }

  @Test
  void closingFreesTheNativeMemory() {
    long before = Pointer.totalBytes();
    for (int i = 0; i < 5; i++) {
      try (QuantizedLinear q = Quantizer.quantize(w, N, N, null, cfg().build())) {
        q.decode();
        q.matvec(new float[N]);
      }
    }
    assertEquals(before, Pointer.totalBytes(), "native bytes still allocated after close");
  }
}
