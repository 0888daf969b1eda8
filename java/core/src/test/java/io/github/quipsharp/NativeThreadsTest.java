package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.quipsharp.internal.SyntheticData;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class NativeThreadsTest {
  static final int N = 256;

  static int[] codes(float[] w, float[] h) {
    QuantConfig cfg = QuantConfig.builder().bits(2).seed(8).refinePasses(1).build();
    try (QuantizedLinear q = Quantizer.quantize(w, N, N, h, cfg)) {
      return q.codes();
    }
  }

  @Test
  void threadCountsOneToFourGiveIdenticalCodesAndJavaThreadsDoNotInterfere() throws Exception {
    float[] w = SyntheticData.gaussian(N, N, 1);
    float[] h = SyntheticData.empiricalHessian(N, 1024, 0.9, 2);
    int original = NativeThreads.get();
    try {
      NativeThreads.set(1);
      assertEquals(1, NativeThreads.get());
      int[] reference = codes(w, h);
      for (int t = 2; t <= 4; t++) {
        NativeThreads.set(t);
        assertArrayEquals(reference, codes(w, h), "threads = " + t);
      }
      NativeThreads.set(2);
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<int[]>> results = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          results.add(pool.submit(() -> codes(w, h)));
        }
        for (Future<int[]> f : results) {
          assertArrayEquals(reference, f.get());
        }
      } finally {
        pool.shutdown();
      }
    } finally {
      NativeThreads.set(original);
    }
  }

  @Test
  void rejectsOutOfRangeCounts() {
    assertThrows(IllegalArgumentException.class, () -> NativeThreads.set(0));
    assertThrows(IllegalArgumentException.class, () -> NativeThreads.set(257));
  }
}
