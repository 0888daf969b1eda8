package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.github.quipsharp.internal.SyntheticData;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The CUDA device API. Without a device the GPU tests skip (JUnit assumptions) unless
 * {@code -Pgpu} (quipsharp.gpu.required=true) makes the absence a failure; the no-device behaviour
 * itself is tested wherever there is no device.
 */
class CudaLinearTest {
  static final int ROWS = 300;
  static final int COLS = 520;

  static void requireGpu() {
    if (CudaDevice.isAvailable()) {
      return;
    }
    String why = "no CUDA device: " + CudaDevice.unavailableReason();
    if (Boolean.getBoolean("quipsharp.gpu.required")) {
      fail("-Pgpu requires a CUDA device; " + why);
    }
    Assumptions.abort(why);
  }

  @Test
  void withoutADeviceEverythingSaysSoInsteadOfCrashing() {
    Assumptions.assumeFalse(CudaDevice.isAvailable(), "a CUDA device is present");
    assertTrue(CudaDevice.list().isEmpty());
    assertFalse(CudaDevice.unavailableReason().isEmpty());
    QuipsharpException e = assertThrows(QuipsharpException.class, () -> CudaDevice.get(0));
    assertTrue(e.getMessage().startsWith("no CUDA device"), e.getMessage());
    QuantConfig cfg = QuantConfig.builder().bits(2).seed(1).refinePasses(0).build();
    try (QuantizedLinear q = Quantizer.quantize(SyntheticData.gaussian(32, 64, 1), 32, 64, null, cfg)) {
      assertThrows(QuipsharpException.class, q::toCuda);
    }
  }

  @Test
  void listsDevicesWithTheirProperties() {
    requireGpu();
    List<CudaDevice> all = CudaDevice.list();
    assertFalse(all.isEmpty());
    for (CudaDevice d : all) {
      assertFalse(d.name().isEmpty(), d.toString());
      assertTrue(d.totalMemoryBytes() > 0, d.toString());
      assertTrue(d.peakGBytesPerSecond() > 0, d.toString());
      assertTrue(d.multiprocessors() > 0, d.toString());
    }
    assertThrows(IllegalArgumentException.class, () -> CudaDevice.get(all.size()));
  }

  @Test
  void matvecAndMatmulMatchTheReferenceForEveryBitWidth() {
    requireGpu();
    float[] w = SyntheticData.gaussian(ROWS, COLS, 3);
    for (int bits = 2; bits <= 4; bits++) {
      QuantConfig cfg = QuantConfig.builder().bits(bits).seed(9).refinePasses(0).build();
      try (QuantizedLinear q = Quantizer.quantize(w, ROWS, COLS, null, cfg);
          CudaLinear gpu = q.toCuda(CudaDevice.get(0))) {
        assertTrue(gpu.weightBytes() > 0);
        for (int batch : new int[] {1, 3, 40}) {
          float[] x = SyntheticData.gaussian(batch, COLS, 5 + batch);
          float[] ref = q.matvec(x);
          float[] y = batch == 1 ? gpu.matvec(x) : gpu.matmul(x, batch);
          assertEquals(ref.length, y.length);
          double err = 0;
          double norm = 0;
          for (int i = 0; i < y.length; i++) {
            err += (y[i] - ref[i]) * (double) (y[i] - ref[i]);
            norm += ref[i] * (double) ref[i];
          }
          // fp16 activations: relative rounding 2^-11 per entry (the GEMM path also rounds W~).
          assertTrue(Math.sqrt(err / norm) < 2e-3,
              bits + " bits, batch " + batch + ": relative error " + Math.sqrt(err / norm));
        }
        assertThrows(IllegalArgumentException.class, () -> gpu.matmul(new float[COLS], 2));
        assertThrows(IllegalArgumentException.class, () -> gpu.matvec(new float[COLS + 1]));
        gpu.close();
        assertThrows(IllegalStateException.class, () -> gpu.matvec(new float[COLS]));
      }
    }
  }
}
