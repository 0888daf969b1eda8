package io.github.quipsharp.bench;

import io.github.quipsharp.CpuLinear;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedLinear;
import io.github.quipsharp.internal.KernelBenchmarks;
import io.github.quipsharp.internal.SyntheticData;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One quantized layer's CPU mat-vec from Java ({@link CpuLinear#matvec}, batch 1, all native
 * threads), milliseconds per call, cycling over enough random layers to exceed 4x the last-level
 * cache (regression tracking for the kernels `quipsharp bench matvec` times natively).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
public class CpuLinearBenchmark {
  @Param({"2", "3", "4"})
  public int bits;

  @Param({"4096"})
  public int rows;

  @Param({"14336"})
  public int cols;

  CpuLinear[] layers;
  float[] x;
  int next;

  @Setup(Level.Trial)
  public void setup() {
    long perLayer = (long) rows * cols * bits / 8;
    int count = (int) Math.max(2, (4 * KernelBenchmarks.lastLevelCacheBytes() + perLayer - 1) / perLayer);
    layers = new CpuLinear[count];
    SplittableRandom random = new SplittableRandom(1);
    QuantConfig cfg = QuantConfig.builder().bits(bits).build();
    for (int i = 0; i < count; i++) {
      int[] codes = new int[rows * (cols / 8)];
      for (int c = 0; c < codes.length; c++) {
        int v = random.nextInt();
        codes[c] = bits == 2 ? v & 0xFFFF : bits == 3 ? v & 0xFFFF00FF : v;
      }
      float[] sIn = signs(cols, random);
      float[] sOut = signs(rows, random);
      try (QuantizedLinear q = QuantizedLinear.fromParts(rows, cols, cfg, codes, sIn, sOut, 0.02)) {
        layers[i] = q.toCpu();
      }
    }
    x = SyntheticData.gaussian(1, cols, 2);
  }

  static float[] signs(int n, SplittableRandom random) {
    float[] s = new float[n];
    for (int i = 0; i < n; i++) {
      s[i] = random.nextBoolean() ? 1f : -1f;
    }
    return s;
  }

  @TearDown(Level.Trial)
  public void close() {
    for (CpuLinear l : layers) {
      l.close();
    }
  }

  @Benchmark
  public float[] matvec() {
    CpuLinear layer = layers[next];
    next = (next + 1) % layers.length;
    return layer.matvec(x);
  }
}
