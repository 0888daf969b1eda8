package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.SyntheticData;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HadamardTest {
  static final int[] BASES = {1, 12, 20, 28, 36, 52, 60, 108, 116, 124, 140, 156, 172};

  /** Every order m·2^k <= limit for every base. */
  static List<Integer> orders(int limit) {
    List<Integer> out = new ArrayList<>();
    for (int m : BASES) {
      for (long n = m; n <= limit; n *= 2) {
        out.add((int) n);
      }
    }
    return out;
  }

  @Test
  void denseMatrixIsOrthogonalForEveryBaseUpTo4096() {
    for (int n : orders(4096)) {
      float[] h = Hadamard.matrix(n);
      float magnitude = (float) (1 / Math.sqrt(n));
      for (float v : h) {
        assertEquals(magnitude, Math.abs(v), 1e-6f, "entries are ±1/sqrt(n), n = " + n);
      }
      // Every entry of H·Hᵀ. Up to 512 by direct products; beyond, column j of H·Hᵀ is H applied to
      // row j of H, computed with the fast transform (which fastTransformEqualsDenseProduct checks
      // against dense products), so the check stays O(n² log n).
      double maxErr = 0;
      if (n <= 512) {
        for (int i = 0; i < n; i++) {
          for (int j = 0; j < n; j++) {
            double dot = 0;
            for (int c = 0; c < n; c++) {
              dot += (double) h[i * n + c] * h[j * n + c];
            }
            maxErr = Math.max(maxErr, Math.abs(dot - (i == j ? 1 : 0)));
          }
        }
      } else {
        float[] g = Hadamard.transform(h, n, false); // row j = H·(row j of H) = column j of H·Hᵀ
        for (int j = 0; j < n; j++) {
          for (int i = 0; i < n; i++) {
            maxErr = Math.max(maxErr, Math.abs(g[j * n + i] - (i == j ? 1 : 0)));
          }
        }
      }
      assertTrue(maxErr < 1e-5, "n = " + n + ": max |H·Hᵀ - I| = " + maxErr);
    }
  }

  @Test
  void fastTransformEqualsDenseProductAndPreservesNorms() {
    for (int n : orders(32768)) {
      SplittableRandom random = new SplittableRandom(31L * n);
      float[] x = new float[2 * n];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) SyntheticData.gaussian(random);
      }
      float[] h = n <= 4096 ? Hadamard.matrix(n) : null;
      for (boolean transpose : new boolean[] {false, true}) {
        float[] y = Hadamard.transform(x, n, transpose);
        for (int v = 0; v < 2; v++) {
          double nx = 0;
          double ny = 0;
          for (int i = 0; i < n; i++) {
            nx += (double) x[v * n + i] * x[v * n + i];
            ny += (double) y[v * n + i] * y[v * n + i];
          }
          assertEquals(1.0, ny / nx, 1e-5, "norm ratio, n = " + n);
        }
        if (h != null) {
          for (int v = 0; v < 2; v++) {
            double maxErr = 0;
            for (int r = 0; r < n; r++) {
              double s = 0;
              for (int c = 0; c < n; c++) {
                float hv = transpose ? h[c * n + r] : h[r * n + c];
                s += (double) hv * x[v * n + c];
              }
              maxErr = Math.max(maxErr, Math.abs(s - y[v * n + r]));
            }
            assertTrue(maxErr < 1e-4, "n = " + n + " transpose " + transpose + " max err " + maxErr);
          }
        }
      }
    }
  }

  @Test
  void randomizedTransformRoundTrip() {
    for (int n : new int[] {4096, 11008}) {
      RandomizedHadamard rht = RandomizedHadamard.of(n, 12345);
      float[] x = SyntheticData.gaussian(3, n, n);
      float[] y = rht.forward(x);
      float[] back = rht.inverse(y);
      double maxErr = 0;
      for (int i = 0; i < x.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(back[i] - x[i]));
      }
      assertTrue(maxErr < 1e-5, "n = " + n + ": max |inverse(forward(x)) - x| = " + maxErr);
      // forward is not the identity: it mixes coordinates.
      double moved = 0;
      for (int i = 0; i < x.length; i++) {
        moved = Math.max(moved, Math.abs(y[i] - x[i]));
      }
      assertTrue(moved > 0.1);
    }
  }

  @Test
  void randomizedTransformMatchesDefinition() {
    int n = 96; // 12 * 8
    RandomizedHadamard rht = RandomizedHadamard.of(n, 9);
    float[] s = rht.signs();
    float[] h = Hadamard.matrix(n);
    float[] x = SyntheticData.gaussian(1, n, 4);
    float[] y = rht.forward(x);
    for (int r = 0; r < n; r++) {
      double expected = 0; // (M^T (s ⊙ x))_r = sum_c M[c][r] s_c x_c
      for (int c = 0; c < n; c++) {
        expected += (double) h[c * n + r] * s[c] * x[c];
      }
      assertEquals(expected, y[r], 1e-5);
    }
  }

  @Test
  void columnTransformEqualsRowTransformOfTheTranspose() {
    int n = 208; // 52 * 4
    int cols = 37;
    RandomizedHadamard rht = RandomizedHadamard.of(n, 5);
    float[] a = SyntheticData.gaussian(n, cols, 6);
    float[] t = new float[a.length]; // cols x n
    for (int r = 0; r < n; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * n + r] = a[r * cols + c];
      }
    }
    float[] byColumns = rht.forwardColumns(a, cols);
    float[] byRows = rht.forward(t);
    for (int r = 0; r < n; r++) {
      for (int c = 0; c < cols; c++) {
        assertEquals(byRows[c * n + r], byColumns[r * cols + c], 1e-5);
      }
    }
    float[] back = rht.inverseColumns(byColumns, cols);
    for (int i = 0; i < a.length; i++) {
      assertEquals(a[i], back[i], 1e-5);
    }
    assertThrows(IllegalArgumentException.class, () -> rht.forwardColumns(a, cols + 1));
  }

  @Test
  void signsAreDeterministicAndBalanced() {
    float[] a = RandomizedHadamard.of(4096, 1).signs();
    float[] b = RandomizedHadamard.of(4096, 1).signs();
    float[] c = RandomizedHadamard.of(4096, 2).signs();
    assertTrue(java.util.Arrays.equals(a, b));
    assertFalse(java.util.Arrays.equals(a, c));
    int plus = 0;
    for (float v : a) {
      assertTrue(v == 1f || v == -1f);
      plus += v > 0 ? 1 : 0;
    }
    assertTrue(Math.abs(plus - 2048) < 200, "balanced signs: " + plus);
  }

  @Test
  void baseOrderSelectionFollowsTheSpec() {
    int[][] cases = {
      {4096, 1}, {5120, 20}, {11008, 172}, {13824, 108}, {14336, 28}, {28672, 28}, {6656, 52},
      {17920, 140}, {22016, 172}, {15360, 60}, {10240, 20}, {172, 172}, {64, 1}
    };
    for (int[] c : cases) {
      assertEquals(c[1], Hadamard.baseOrder(c[0]), "base order of " + c[0]);
      assertTrue(Hadamard.isSupported(c[0]));
    }
    assertFalse(Hadamard.isSupported(100));
    assertFalse(Hadamard.isSupported(1032));
    assertFalse(Hadamard.isSupported(0));
    assertFalse(Hadamard.isSupported(-4));
  }

  @Test
  void unsupportedOrderNamesNearbySizes() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> RandomizedHadamard.of(100, 1));
    assertTrue(e.getMessage().contains("n = 100"), e.getMessage());
    assertTrue(e.getMessage().contains("96 and 104"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Hadamard.matrix(1032));
    // Huge unsupported sizes are reported at once (the neighbours come from the order list).
    IllegalArgumentException huge =
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
            java.time.Duration.ofSeconds(5),
            () -> assertThrows(IllegalArgumentException.class,
                () -> RandomizedHadamard.of(2_000_000_001, 1)));
    assertTrue(huge.getMessage().contains("1946157056 and 2013265920"), huge.getMessage());
    assertEquals(0, Hadamard.nearestSupported(Integer.MAX_VALUE)[1]);
    assertThrows(IllegalArgumentException.class, () -> Hadamard.matrix(16384));
    RandomizedHadamard rht = RandomizedHadamard.of(64, 1);
    assertThrows(IllegalArgumentException.class, () -> rht.forward(new float[65]));
    assertThrows(IllegalArgumentException.class, () -> rht.forward(null));
  }
}
