package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.SyntheticData;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class E8P12CodebookTest {
  static E8P12Codebook cb;
  static float[] all; // all 65536 codewords, code-major
  static short[] allCodes;

  @BeforeAll
  static void decodeAll() {
    cb = E8P12Codebook.get();
    allCodes = new short[cb.size()];
    for (int c = 0; c < allCodes.length; c++) {
      allCodes[c] = (short) c;
    }
    all = cb.decode(allCodes);
  }

  @Test
  void hasSixtyFiveThousandDistinctCodewords() {
    assertEquals(65536, cb.size());
    Set<String> distinct = new HashSet<>();
    for (int c = 0; c < 65536; c++) {
      StringBuilder key = new StringBuilder();
      for (int j = 0; j < 8; j++) {
        key.append(all[c * 8 + j]).append(',');
      }
      distinct.add(key.toString());
    }
    assertEquals(65536, distinct.size());
  }

  /** §3.4: codeword − shift ∈ D̂8 (half-integers, even sum), shift = ±¼, half the codebook each. */
  @Test
  void everyCodewordIsAShiftedD8HatPoint() {
    int plus = 0;
    double[] mean = new double[8];
    for (int c = 0; c < 65536; c++) {
      double shift = Math.abs(frac(all[c * 8]) - 0.75) < 1e-9 ? 0.25 : -0.25;
      if (shift > 0) {
        plus++;
      }
      double sum = 0;
      for (int j = 0; j < 8; j++) {
        double v = all[c * 8 + j] - shift;
        assertEquals(0.5, frac(v), 1e-9, "code " + c + " coordinate " + j + " is not half-integer");
        sum += v;
        mean[j] += all[c * 8 + j];
      }
      assertEquals(0, Math.floorMod(Math.round(sum), 2), "code " + c + ": odd coordinate sum " + sum);
    }
    assertEquals(32768, plus);
    for (double m : mean) {
      assertEquals(0, m / 65536, 1e-9);
    }
  }

  private static double frac(double v) {
    return v - Math.floor(v);
  }

  @Test
  void specDecodeVectors() {
    assertArrayEquals(filled(0.75f), cb.decode(new short[] {0x0000}));
    assertArrayEquals(filled(0.25f), cb.decode(new short[] {0x0001}));
    assertArrayEquals(
        new float[] {-0.75f, 0.25f, -0.75f, 0.25f, 0.25f, 0.25f, 0.25f, -1.75f},
        cb.decode(new short[] {0x0102}));
    assertArrayEquals(
        new float[] {0.25f, 0.25f, -0.75f, -0.75f, -1.75f, 0.25f, 1.25f, 1.25f},
        cb.decode(new short[] {0x15A7}));
    assertArrayEquals(
        new float[] {-1.25f, -1.25f, -0.25f, -0.25f, -1.25f, -1.25f, -1.25f, 0.75f},
        cb.decode(new short[] {(short) 0xFFFF}));
  }

  @Test
  void specEncodeVectors() {
    short[] c = cb.encode(new float[] {0.3f, -1.2f, 0.8f, 2.1f, -0.4f, 0.05f, -0.9f, 1.6f});
    assertEquals(0x735C, c[0] & 0xFFFF);
    assertEquals(0x00FE, cb.encode(filled(-0.75f))[0] & 0xFFFF);
  }

  private static float[] filled(float v) {
    float[] out = new float[8];
    java.util.Arrays.fill(out, v);
    return out;
  }

  @Test
  void encodeOfDecodeIsIdentityOnCodewords() {
    float[] again = cb.decode(cb.encode(all));
    assertArrayEquals(all, again);
  }

  /** encode() against a brute-force scan of all 65536 codewords on 20,000 random vectors. */
  @Test
  void encodeFindsTheTrueNearestCodeword() {
    int perKind = 4000;
    double[] scales = {0.25, 1.0, 2.0, 4.0};
    float[] x = new float[(scales.length + 1) * perKind * 8];
    SplittableRandom random = new SplittableRandom(2024);
    int p = 0;
    for (double s : scales) {
      for (int i = 0; i < perKind * 8; i++) {
        x[p++] = (float) (s * SyntheticData.gaussian(random));
      }
    }
    for (int i = 0; i < perKind * 8; i++) {
      x[p++] = (float) (random.nextDouble() * 6 - 3);
    }
    short[] codes = cb.encode(x);
    float[] chosen = cb.decode(codes);
    int vectors = x.length / 8;
    long mismatches =
        IntStream.range(0, vectors)
            .parallel()
            .filter(
                v -> {
                  double best = Double.MAX_VALUE;
                  for (int c = 0; c < 65536; c++) {
                    double d = 0;
                    for (int j = 0; j < 8; j++) {
                      double e = x[v * 8 + j] - all[c * 8 + j];
                      d += e * e;
                    }
                    best = Math.min(best, d);
                  }
                  double got = 0;
                  for (int j = 0; j < 8; j++) {
                    double e = x[v * 8 + j] - chosen[v * 8 + j];
                    got += e * e;
                  }
                  return got > best + 1e-5 * Math.max(1, best);
                })
            .count();
    assertEquals(0, mismatches, "vectors whose code is not a nearest codeword");
  }

  /** §3.6: with unit-variance input the best scale in [0.9, 1.1] gives MSE <= 0.0925. */
  @Test
  void gaussianDistortionAtTheBestScale() {
    float[] g = SyntheticData.gaussian(40000, 8, 7);
    double best = Double.MAX_VALUE;
    StringBuilder table = new StringBuilder();
    for (double rho = 0.90; rho <= 1.1001; rho += 0.01) {
      float[] scaled = new float[g.length];
      for (int i = 0; i < g.length; i++) {
        scaled[i] = (float) (g[i] * rho);
      }
      float[] q = cb.decode(cb.encode(scaled));
      double mse = 0;
      for (int i = 0; i < g.length; i++) {
        double e = g[i] - q[i] / rho;
        mse += e * e;
      }
      mse /= g.length;
      table.append(String.format(java.util.Locale.ROOT, " %.2f:%.5f", rho, mse));
      best = Math.min(best, mse);
    }
    assertTrue(best <= 0.0925, "best MSE " + best + " over" + table);
    assertTrue(best > 0.085, "MSE implausibly low (below the E8P12 optimum 0.0914): " + best);
  }

  @Test
  void badInput() {
    assertThrows(IllegalArgumentException.class, () -> cb.encode(new float[7]));
    assertThrows(IllegalArgumentException.class, () -> cb.encode(new float[0]));
    assertThrows(IllegalArgumentException.class, () -> cb.encode(null));
    float[] nan = new float[16];
    nan[11] = Float.NaN;
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> cb.encode(nan));
    assertTrue(e.getMessage().contains("x[11]"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> cb.decode(null));
  }
}
