package io.github.quipsharp.internal;

import io.github.quipsharp.CpuKernel;
import io.github.quipsharp.NativeThreads;
import io.github.quipsharp.bindings.QuipsharpBench;
import io.github.quipsharp.bindings.QuipsharpNative;

/**
 * Native benchmark drivers (what {@code quipsharp bench} runs), in their own library
 * (libquipsharp_bench, loaded on first use). They time the kernels in native code, so no JNI or Java
 * overhead is counted. Results are measurements, never asserted by tests.
 */
public final class KernelBenchmarks {
  private static volatile boolean loaded;

  private KernelBenchmarks() {}

  private static void ensureLoaded() {
    if (!loaded) {
      synchronized (KernelBenchmarks.class) {
        if (!loaded) {
          NativeCalls.ensureLoaded();
          NativeCalls.load(QuipsharpBench.class, "the quipsharp benchmark drivers (libquipsharp_bench)");
          loaded = true;
        }
      }
    }
  }

  /** One layer's mat-vec timing; bandwidth figures are in 10^9 bytes per second. */
  public record MatvecResult(
      int bits,
      int rows,
      int cols,
      int threads,
      CpuKernel kernel,
      long layers,
      long calls,
      long weightBytesPerLayer,
      double secondsPerCall,
      double gweightsPerS,
      double weightGbytesPerS,
      double fp32EquivGbytesPerS) {}

  /** Streaming read and memcpy bandwidth (10^9 bytes per second; memcpy counts bytes copied). */
  public record MemoryResult(int threads, long bytes, double readGbytesPerS, double memcpyGbytesPerS) {}

  /**
   * The machine for naming results: the CPU model from /proc/cpuinfo and the hardware thread count,
   * e.g. "AMD EPYC (2 hardware threads)".
   */
  public static String machineDescription() {
    String model = "unknown CPU";
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          model = line.substring(line.indexOf(':') + 1).trim();
          break;
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // keep "unknown CPU": the name is informative only
    }
    return model + " (" + Runtime.getRuntime().availableProcessors() + " hardware threads)";
  }

  /** Size of the CPU's last-level cache in bytes (32 MiB if the system does not say). */
  public static long lastLevelCacheBytes() {
    ensureLoaded();
    return QuipsharpBench.qs_cache_l3_bytes();
  }

  /**
   * Times y = layer(x) on random layers: bits 2, 3, 4 run the quantized inference path (input RHT,
   * integer codebook mat-vec per stage, output RHT); 16 and 32 run fp16 / fp32 mat-vec. Cycles over
   * {@code layers} distinct matrices ({@code <= 0}: enough for 4× the last-level cache) for at least
   * {@code minSeconds}, on {@link NativeThreads#get()} threads.
   */
  public static MatvecResult matvec(
      int bits, int rows, int cols, int layers, CpuKernel kernel, double minSeconds) {
    Checks.notNull(kernel, "kernel");
    if (!kernel.isAvailable()) {
      throw new IllegalArgumentException("kernel " + kernel + " is not available on this CPU");
    }
    ensureLoaded();
    try (QuipsharpBench.qs_matvec_bench r = new QuipsharpBench.qs_matvec_bench()) {
      NativeCalls.check(
          QuipsharpBench.qs_bench_matvec(bits, rows, cols, layers, nativeId(kernel), minSeconds, 1, r),
          "matvec benchmark");
      return new MatvecResult(bits, rows, cols, NativeThreads.get(), kernel, r.layers(), r.calls(),
          r.weight_bytes_per_layer(), r.seconds_per_call(), r.gweights_per_s(),
          r.weight_gbytes_per_s(), r.fp32_equiv_gbytes_per_s());
    }
  }

  /** Read and memcpy bandwidth over buffers of {@code bytes} ({@code <= 0}: max(256 MiB, 8× L3)). */
  public static MemoryResult memory(long bytes, double minSeconds) {
    ensureLoaded();
    try (QuipsharpBench.qs_memory_bench r = new QuipsharpBench.qs_memory_bench()) {
      NativeCalls.check(QuipsharpBench.qs_bench_memory(bytes, minSeconds, r), "memory benchmark");
      return new MemoryResult(r.threads(), r.bytes(), r.read_gbytes_per_s(), r.memcpy_gbytes_per_s());
    }
  }

  /** The native id of a kernel (CpuKernel keeps its own id package-private). */
  private static int nativeId(CpuKernel kernel) {
    switch (kernel) {
      case SCALAR:
        return QuipsharpNative.QS_KERNEL_SCALAR;
      case AVX2:
        return QuipsharpNative.QS_KERNEL_AVX2;
      case AVX512:
        return QuipsharpNative.QS_KERNEL_AVX512;
      default:
        return QuipsharpNative.QS_KERNEL_AUTO;
    }
  }
}
