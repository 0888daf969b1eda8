package io.github.quipsharp.bench;

import io.github.quipsharp.E8P12Codebook;
import io.github.quipsharp.internal.SyntheticData;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/** E8P12 encode and decode throughput, in 8-vectors per second on one thread (ops = 8-vectors). */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
@Threads(1)
public class CodebookBenchmark {
  static final int VECTORS = 1 << 16;

  float[] x;
  short[] codes;
  E8P12Codebook codebook;

  @Setup
  public void setup() {
    codebook = E8P12Codebook.get();
    x = SyntheticData.gaussian(VECTORS, 8, 42);
    for (int i = 0; i < x.length; i++) {
      x[i] *= (float) E8P12Codebook.OPT_SCALE;
    }
    codes = codebook.encode(x);
  }

  @Benchmark
  @OperationsPerInvocation(VECTORS)
  public short[] encode() {
    return codebook.encode(x);
  }

  @Benchmark
  @OperationsPerInvocation(VECTORS)
  public float[] decode() {
    return codebook.decode(codes);
  }
}
