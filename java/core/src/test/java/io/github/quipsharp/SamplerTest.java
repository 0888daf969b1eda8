package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Sampling against the definitions: argmax, softmax frequencies, the top-k and nucleus cuts, seeds. */
class SamplerTest {
  /** Logits whose softmax at temperature 1 is exactly {@code p}. */
  static float[] logitsOf(double... p) {
    float[] l = new float[p.length];
    for (int i = 0; i < p.length; i++) {
      l[i] = (float) Math.log(p[i]);
    }
    return l;
  }

  static double[] frequencies(Sampler s, float[] logits, int draws) {
    double[] f = new double[logits.length];
    for (int i = 0; i < draws; i++) {
      f[s.sample(logits)] += 1.0 / draws;
    }
    return f;
  }

  @Test
  void greedyIsTheArgmaxWithTheLowestIdOnTies() {
    assertEquals(2, Sampler.greedy().sample(new float[] {0.1f, -3f, 5f, 4.9f}));
    assertEquals(1, Sampler.greedy().sample(new float[] {0f, 7f, 7f}));
    // top-k 1 is greedy at any temperature.
    Sampler top1 = Sampler.builder().temperature(5.0).topK(1).topP(1.0).seed(3).build();
    assertEquals(2, top1.sample(new float[] {0.1f, -3f, 5f, 4.9f}));
  }

  @Test
  void frequenciesFollowTheSoftmax() {
    double[] p = {0.5, 0.25, 0.15, 0.1};
    int draws = 200_000;
    double[] f = frequencies(
        Sampler.builder().temperature(1.0).topP(1.0).seed(11).build(), logitsOf(p), draws);
    for (int i = 0; i < p.length; i++) {
      double sigma = Math.sqrt(p[i] * (1 - p[i]) / draws);
      assertEquals(p[i], f[i], 5 * sigma, "token " + i);
    }
    // Temperature 2 flattens: probabilities proportional to sqrt(p).
    double[] f2 = frequencies(
        Sampler.builder().temperature(2.0).topP(1.0).seed(12).build(), logitsOf(p), draws);
    double z = 0;
    for (double v : p) {
      z += Math.sqrt(v);
    }
    for (int i = 0; i < p.length; i++) {
      double q = Math.sqrt(p[i]) / z;
      assertEquals(q, f2[i], 5 * Math.sqrt(q * (1 - q) / draws), "token " + i + " at T = 2");
    }
  }

  @Test
  void topKAndTopPCutAndRenormalize() {
    double[] p = {0.4, 0.3, 0.2, 0.1};
    int draws = 100_000;
    // top-k 2: only the two most likely, in ratio 4:3.
    double[] k2 = frequencies(
        Sampler.builder().temperature(1.0).topK(2).topP(1.0).seed(5).build(), logitsOf(p), draws);
    assertEquals(0, k2[2] + k2[3], 0.0);
    assertEquals(4.0 / 7, k2[0], 0.01);
    // top-p 0.5: the smallest prefix reaching 0.5 is {0, 1} (0.4 < 0.5 <= 0.7).
    double[] p5 = frequencies(
        Sampler.builder().temperature(1.0).topP(0.5).seed(6).build(), logitsOf(p), draws);
    assertEquals(0, p5[2] + p5[3], 0.0);
    assertEquals(4.0 / 7, p5[0], 0.01);
    // top-p 0.95 keeps all four.
    double[] p95 = frequencies(
        Sampler.builder().temperature(1.0).topP(0.95).seed(7).build(), logitsOf(p), draws);
    assertTrue(p95[3] > 0.05, "token 3 kept: " + p95[3]);
  }

  @Test
  void theSeedReproducesASequence() {
    float[] l = logitsOf(0.3, 0.3, 0.2, 0.2);
    int[] a = new int[50];
    int[] b = new int[50];
    Sampler s1 = Sampler.builder().temperature(0.9).topP(0.9).seed(42).build();
    Sampler s2 = Sampler.builder().temperature(0.9).topP(0.9).seed(42).build();
    for (int i = 0; i < 50; i++) {
      a[i] = s1.sample(l);
      b[i] = s2.sample(l);
    }
    assertArrayEquals(a, b);
  }

  @Test
  void badSettingsAreRejected() {
    assertThrows(IllegalArgumentException.class,
        () -> Sampler.builder().temperature(-1).topP(1).seed(0).build());
    assertThrows(IllegalArgumentException.class,
        () -> Sampler.builder().temperature(Double.NaN).topP(1).seed(0).build());
    assertThrows(IllegalArgumentException.class,
        () -> Sampler.builder().temperature(1).topK(-1).topP(1).seed(0).build());
    assertThrows(IllegalArgumentException.class,
        () -> Sampler.builder().temperature(1).topP(0).seed(0).build());
    assertThrows(IllegalArgumentException.class,
        () -> Sampler.builder().temperature(1).topP(1.5).seed(0).build());
    // Each message names the setting.
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> Sampler.builder().temperature(-1).build()).getMessage().startsWith("temperature = -1"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> Sampler.builder().topK(-2).build()).getMessage().startsWith("top-k = -2"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> Sampler.builder().topP(2).build()).getMessage().startsWith("top-p = 2"));
  }

  @Test
  void builderDefaultsAreGreedy() {
    float[] logits = {0.5f, 3f, -1f, 2.9f};
    assertEquals(1, Sampler.builder().build().sample(logits));
    assertEquals(1, Sampler.greedy().sample(logits));
  }
}
