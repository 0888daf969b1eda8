package io.github.quipsharp.bench;

import io.github.quipsharp.RandomizedHadamard;
import io.github.quipsharp.internal.SyntheticData;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/** Randomized Hadamard transform, forward, in vectors per second (batches of 64 vectors). */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
@Threads(1)
public class HadamardBenchmark {
  static final int BATCH = 64;

  @Param({"4096", "11008"})
  public int n;

  RandomizedHadamard rht;
  float[] x;

  @Setup
  public void setup() {
    rht = RandomizedHadamard.of(n, 7);
    x = SyntheticData.gaussian(BATCH, n, 1);
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public float[] forward() {
    return rht.forward(x);
  }
}
