package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.SyntheticData;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

class CpuLinearTest {
  static final int ROWS = 256;
  static final int COLS = 512;

  /**
   * Largest |entry| of the codebook matrix W̃: E8P12 5/2 + 1/4; the residual stage adds its own
   * largest entry divided by ρ₂ (E8P12: 2.75 / 3.45; E81B: 2 / 2.04).
   */
  static double maxCodebookEntry(int bits) {
    return bits == 2 ? 2.75 : bits == 4 ? 2.75 * (1 + 1 / 3.45) : 2.75 + 2 / 2.04;
  }

  @Test
  void matchesTheReferenceMatvecWithinTheActivationRoundingBound() {
    int original = ActivationPrecision.get();
    try {
      for (int activationBits : new int[] {8, 16}) {
        ActivationPrecision.set(activationBits);
        assertEquals(activationBits, ActivationPrecision.get());
        checkAgainstReference(activationBits == 16 ? 16383 : 127);
      }
    } finally {
      ActivationPrecision.set(original);
    }
  }

  @Test
  void activationPrecisionRejectsOtherWidths() {
    int original = ActivationPrecision.get();
    assertThrows(IllegalArgumentException.class, () -> ActivationPrecision.set(12));
    assertEquals(original, ActivationPrecision.get());
  }

  /** levels: the activation's integer range L (|uq| <= L). */
  private static void checkAgainstReference(int levels) {
    float[] w = SyntheticData.gaussian(ROWS, COLS, 3);
    float[] h = SyntheticData.empiricalHessian(COLS, 1024, 0.9, 4);
    for (int bits = 2; bits <= 4; bits++) {
      QuantConfig cfg = QuantConfig.builder().bits(bits).seed(9).refinePasses(1).build();
      try (QuantizedLinear q = Quantizer.quantize(w, ROWS, COLS, h, cfg);
          CpuLinear fast = q.toCpu();
          CpuLinear scalar = q.toCpu(CpuKernel.SCALAR)) {
        assertEquals((long) ROWS * COLS * bits / 8, fast.weightBytes());
        float[] x = SyntheticData.gaussian(2, COLS, 5);
        float[] ref = q.matvec(x);
        float[] y = fast.matvec(x);
        // Every kernel family computes the same integers: identical outputs.
        assertArrayEquals(scalar.matvec(x), y);
        for (CpuKernel k : CpuKernel.values()) {
          if (k.isAvailable()) {
            try (CpuLinear each = q.toCpu(k)) {
              assertArrayEquals(y, each.matvec(x), k + ", " + bits + " bits");
            }
          }
        }
        for (int b = 0; b < 2; b++) {
          double err = 0;
          double xnorm = 0;
          for (int r = 0; r < ROWS; r++) {
            double e = y[b * ROWS + r] - ref[b * ROWS + r];
            err += e * e;
          }
          for (int c = 0; c < COLS; c++) {
            xnorm += (double) x[b * COLS + c] * x[b * COLS + c];
          }
          // |dz_r| <= max|u| / (2L) * sum_j |W~_rj| <= ||x|| / (2L) * cols * maxEntry, and
          // ||dy|| = scale * ||dz|| (the output transform is orthogonal, the signs are +-1).
          double bound = q.scale() * Math.sqrt(xnorm) / (2.0 * levels) * COLS
              * maxCodebookEntry(bits) * Math.sqrt(ROWS);
          assertTrue(Math.sqrt(err) <= bound, bits + " bits: error " + Math.sqrt(err) + " > " + bound);
        }
      }
    }
  }

  @Test
  void autoRunsTheWidestAvailableKernelUnlessCapped() {
    CpuKernel selected = CpuKernel.selected();
    assertTrue(selected != CpuKernel.AUTO && selected.isAvailable(), selected.name());
    if (System.getenv("QUIPSHARP_CPU_KERNEL") == null) {
      CpuKernel widest = CpuKernel.AVX512.isAvailable() ? CpuKernel.AVX512
          : CpuKernel.AVX2.isAvailable() ? CpuKernel.AVX2 : CpuKernel.SCALAR;
      assertEquals(widest, selected);
    }
    assertEquals(selected, CpuKernel.AUTO.resolved());
    assertEquals(CpuKernel.SCALAR, CpuKernel.SCALAR.resolved());
  }

  @Test
  void closedLayersAndBadInputAreExceptions() {
    float[] w = SyntheticData.gaussian(64, 64, 1);
    long before = Pointer.totalBytes();
    try (QuantizedLinear q = Quantizer.quantize(w, 64, 64, null, QuantConfig.builder().build())) {
      CpuLinear c = q.toCpu();
      assertThrows(IllegalArgumentException.class, () -> c.matvec(new float[63]));
      float[] nan = new float[64];
      nan[2] = Float.NaN;
      assertThrows(IllegalArgumentException.class, () -> c.matvec(nan));
      c.close();
      c.close();
      assertThrows(IllegalStateException.class, () -> c.matvec(new float[64]));
    }
    assertEquals(before, Pointer.totalBytes());
  }
}
