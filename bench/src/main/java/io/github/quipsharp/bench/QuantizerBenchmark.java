package io.github.quipsharp.bench;

import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedLinear;
import io.github.quipsharp.Quantizer;
import io.github.quipsharp.internal.SyntheticData;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Quantizer.quantize of a 4096×4096 Gaussian matrix at 2 bits with BlockLDLQ and a correlated
 * Hessian, seconds per matrix (all threads of the machine), without and with the default refinement.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgs = {"-Xmx8g"})
public class QuantizerBenchmark {
  @Param({"4096"})
  public int size;

  @Param({"0", "10"})
  public int refinePasses;

  float[] w;
  float[] h;

  @Setup
  public void setup() {
    w = SyntheticData.gaussian(size, size, 1);
    h = SyntheticData.correlatedHessian(size, 2);
  }

  @Benchmark
  public int quantize() {
    QuantConfig cfg = QuantConfig.builder().bits(2).seed(5).refinePasses(refinePasses).build();
    try (QuantizedLinear q = Quantizer.quantize(w, size, size, h, cfg)) {
      return q.rows();
    }
  }
}
