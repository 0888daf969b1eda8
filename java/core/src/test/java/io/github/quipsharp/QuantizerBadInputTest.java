package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.SyntheticData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every bad input of Quantizer / QuantizedLinear / QuantConfig gets the documented exception. */
class QuantizerBadInputTest {
  static final int N = 64;
  static final float[] W = SyntheticData.gaussian(N, N, 1);
  static final QuantConfig CFG = QuantConfig.builder().refinePasses(0).build();

  static void assertMessage(Class<? extends Throwable> type, Executable call, String... parts) {
    Throwable t = assertThrows(type, call);
    for (String p : parts) {
      assertTrue(t.getMessage() != null && t.getMessage().contains(p),
          "message '" + t.getMessage() + "' should contain '" + p + "'");
    }
  }

  static float[] identity(int n) {
    float[] h = new float[n * n];
    for (int i = 0; i < n; i++) {
      h[i * n + i] = 1;
    }
    return h;
  }

  @Test
  void wrongWeightLength() {
    assertMessage(IllegalArgumentException.class,
        () -> Quantizer.quantize(new float[N * N - 1], N, N, null, CFG), "w.length = 4095", "4096");
  }

  @Test
  void wrongHessianLength() {
    assertMessage(IllegalArgumentException.class,
        () -> Quantizer.quantize(W, N, N, new float[N * N + 8], CFG), "hessian.length = 4104");
  }

  @Test
  void nullArguments() {
    assertMessage(IllegalArgumentException.class, () -> Quantizer.quantize(null, N, N, null, CFG), "w");
    assertMessage(IllegalArgumentException.class, () -> Quantizer.quantize(W, N, N, null, null), "cfg");
  }

  @Test
  void nonPositiveDimensions() {
    assertMessage(IllegalArgumentException.class,
        () -> Quantizer.quantize(new float[0], 0, N, null, CFG), "rows = 0");
  }

  @Test
  void nanInWeights() {
    float[] w = W.clone();
    w[77] = Float.NaN;
    assertMessage(IllegalArgumentException.class, () -> Quantizer.quantize(w, N, N, null, CFG),
        "w[77]", "NaN");
  }

  @Test
  void infinityInHessian() {
    float[] h = identity(N);
    h[5] = Float.POSITIVE_INFINITY;
    assertMessage(IllegalArgumentException.class, () -> Quantizer.quantize(W, N, N, h, CFG),
        "hessian[5]", "Infinity");
  }

  @Test
  void nonSymmetricHessian() {
    float[] h = identity(N);
    h[1] = 0.5f; // h[0][1] without h[1][0]
    assertMessage(IllegalArgumentException.class, () -> Quantizer.quantize(W, N, N, h, CFG),
        "not symmetric", "h[0][1]");
  }

  @Test
  void negativeDefiniteHessian() {
    float[] h = identity(N);
    for (int i = 0; i < N; i++) {
      h[i * N + i] = -1;
    }
    assertMessage(NotPositiveDefiniteException.class, () -> Quantizer.quantize(W, N, N, h, CFG),
        "mean diagonal");
  }

  @Test
  void indefiniteHessianThatDampingCannotFix() {
    float[] h = identity(N);
    h[(N - 1) * N + (N - 1)] = -20; // mean diagonal still positive, one eigenvalue far below zero
    assertMessage(NotPositiveDefiniteException.class, () -> Quantizer.quantize(W, N, N, h, CFG),
        "not positive definite");
  }

  @Test
  void nonPositiveSizes() {
    assertMessage(IllegalArgumentException.class,
        () -> Quantizer.quantize(new float[0], 0, N, null, CFG), "rows = 0");
    assertMessage(IllegalArgumentException.class,
        () -> Quantizer.quantize(new float[0], N, 0, null, CFG), "cols = 0");
  }

  @Test
  void bitsOutsideTwoToFour() {
    assertMessage(IllegalArgumentException.class, () -> QuantConfig.builder().bits(5), "bits = 5");
    assertMessage(IllegalArgumentException.class, () -> QuantConfig.builder().bits(1), "bits = 1");
  }

  @Test
  void invalidConfigValues() {
    assertMessage(IllegalArgumentException.class, () -> QuantConfig.builder().refinePasses(-1),
        "refinePasses = -1");
    assertMessage(IllegalArgumentException.class, () -> QuantConfig.builder().damping(Double.NaN),
        "damping = NaN");
    assertMessage(IllegalArgumentException.class, () -> QuantConfig.builder().scale(-1), "scale = -1");
  }

  @Test
  void useAfterCloseIsAnException() {
    QuantizedLinear q = Quantizer.quantize(W, N, N, null, CFG);
    q.close();
    q.close(); // idempotent
    assertMessage(IllegalStateException.class, q::decode, "closed");
    assertMessage(IllegalStateException.class, () -> q.matvec(new float[N]), "closed");
    assertMessage(IllegalStateException.class, q::codes, "closed");
    assertMessage(IllegalStateException.class, () -> q.proxyLoss(W, null), "closed");
    assertMessage(IllegalStateException.class, q::packedCodes, "closed");
  }

  @Test
  void matvecWithWrongLength() {
    try (QuantizedLinear q = Quantizer.quantize(W, N, N, null, CFG)) {
      assertMessage(IllegalArgumentException.class, () -> q.matvec(new float[N + 1]), "x.length = 65");
      assertMessage(IllegalArgumentException.class, () -> q.proxyLoss(new float[3], null), "w.length = 3");
    }
  }

  @Test
  void fromPartsValidatesItsArrays() {
    assertMessage(IllegalArgumentException.class,
        () -> QuantizedLinear.fromParts(N, N, CFG, new int[3], new float[N], new float[N], 1.0),
        "codes.length = 3");
    assertMessage(IllegalArgumentException.class,
        () -> QuantizedLinear.fromParts(N, N, CFG, new int[N * N / 8], new float[N], new float[N],
            Double.NaN), "scale = NaN");
  }

  @Test
  void outOfRangeCodesAreRejectedNotDecodedOutOfBounds() {
    // 3 bits: stage-2 codes index the 256-entry E81B table.
    QuantConfig three = CFG.toBuilder().bits(3).build();
    int[] codes = new int[N * N / 8];
    codes[9] = 0x0000_0100; // stage-2 index 256
    float[] ones = new float[N];
    java.util.Arrays.fill(ones, 1f);
    try (QuantizedLinear q = QuantizedLinear.fromParts(N, N, three, codes, ones, ones, 1.0)) {
      assertThrows(IllegalArgumentException.class, q::decode);
      assertThrows(IllegalArgumentException.class, () -> q.matvec(new float[N]));
    }
  }
}
