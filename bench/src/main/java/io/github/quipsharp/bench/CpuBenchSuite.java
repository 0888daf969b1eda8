package io.github.quipsharp.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ActivationPrecision;
import io.github.quipsharp.CpuKernel;
import io.github.quipsharp.NativeThreads;
import io.github.quipsharp.internal.KernelBenchmarks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The CPU mat-vec suite behind the README's table and plot: Llama-7B layer shapes × bits {2, 3, 4,
 * 16, 32} × threads {1, all}, plus the memory bandwidth measured in the same run. Writes one JSON
 * document and prints a Markdown table.
 *
 * <pre>java -cp bench/target/benchmarks.jar io.github.quipsharp.bench.CpuBenchSuite OUT.json [SECONDS [KERNEL]]</pre>
 *
 * <p>KERNEL is a {@link CpuKernel} name (default AUTO); AVX2 on an AVX-512 machine measures what an
 * AVX2-only CPU would run (the codebook and dense kernels; the Hadamard transform keeps its choice).
 */
public final class CpuBenchSuite {
  static final int[][] SHAPES = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {14336, 4096}, {4096, 14336}};
  static final int[] BITS = {2, 3, 4, 16, 32};

  private CpuBenchSuite() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: CpuBenchSuite OUT.json [SECONDS per measurement, default 2]"
          + " [KERNEL: AUTO (default), SCALAR, AVX2, AVX512]");
      System.exit(2);
    }
    Path out = Path.of(args[0]);
    double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 2.0;
    CpuKernel kernel = args.length > 2 ? CpuKernel.valueOf(args[2].toUpperCase(Locale.ROOT)) : CpuKernel.AUTO;
    if (!kernel.isAvailable()) {
      System.err.println("kernel " + kernel + " is not available on this CPU");
      System.exit(2);
    }
    int all = Runtime.getRuntime().availableProcessors();
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode root = json.createObjectNode();
    root.put("machine", KernelBenchmarks.machineDescription());
    root.put("last_level_cache_bytes", KernelBenchmarks.lastLevelCacheBytes());
    root.put("activation_bits", ActivationPrecision.get());
    root.put("kernel", kernel.name());
    root.put("kernel_selected", kernel.resolved().name());
    ArrayNode memory = root.putArray("memory");
    ArrayNode matvec = root.putArray("matvec");
    StringBuilder table = new StringBuilder();
    table.append("| shape (out × in) | threads | bits | ms/call | G weights/s | weight GB/s |"
        + " fp32-equiv GB/s | × fp32 | × fp16 |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int threads : all > 1 ? new int[] {1, all} : new int[] {1}) {
      NativeThreads.set(threads);
      KernelBenchmarks.MemoryResult m = KernelBenchmarks.memory(0, seconds);
      ObjectNode mj = memory.addObject();
      mj.put("threads", threads);
      mj.put("bytes", m.bytes());
      mj.put("read_gbytes_per_s", m.readGbytesPerS());
      mj.put("memcpy_gbytes_per_s", m.memcpyGbytesPerS());
      System.err.printf(Locale.ROOT, "memory %d threads: read %.2f GB/s, memcpy %.2f GB/s%n", threads,
          m.readGbytesPerS(), m.memcpyGbytesPerS());
      for (int[] shape : SHAPES) {
        double fp32 = 0;
        double fp16 = 0;
        KernelBenchmarks.MatvecResult[] results = new KernelBenchmarks.MatvecResult[BITS.length];
        for (int i = BITS.length - 1; i >= 0; i--) { // fp32 first: the ratio's baseline
          results[i] = KernelBenchmarks.matvec(BITS[i], shape[0], shape[1], 0, kernel, seconds);
          if (BITS[i] == 32) {
            fp32 = results[i].secondsPerCall();
          }
          if (BITS[i] == 16) {
            fp16 = results[i].secondsPerCall();
          }
        }
        for (KernelBenchmarks.MatvecResult r : results) {
          ObjectNode j = matvec.addObject();
          j.put("rows", r.rows());
          j.put("cols", r.cols());
          j.put("bits", r.bits());
          j.put("threads", r.threads());
          j.put("layers", r.layers());
          j.put("seconds_per_call", r.secondsPerCall());
          j.put("gweights_per_s", r.gweightsPerS());
          j.put("weight_gbytes_per_s", r.weightGbytesPerS());
          j.put("fp32_equiv_gbytes_per_s", r.fp32EquivGbytesPerS());
          j.put("speedup_vs_fp32", fp32 / r.secondsPerCall());
          j.put("speedup_vs_fp16", fp16 / r.secondsPerCall());
          j.put("fraction_of_read_bandwidth", r.weightGbytesPerS() / m.readGbytesPerS());
          table.append(String.format(Locale.ROOT,
              "| %d × %d | %d | %d | %.3f | %.2f | %.2f | %.1f | %.2f | %.2f |%n",
              r.rows(), r.cols(), threads, r.bits(), r.secondsPerCall() * 1e3, r.gweightsPerS(),
              r.weightGbytesPerS(), r.fp32EquivGbytesPerS(), fp32 / r.secondsPerCall(),
              fp16 / r.secondsPerCall()));
          System.err.printf(Locale.ROOT, "%d x %d, %d threads, %d bits: %.2f G weights/s%n", r.rows(),
              r.cols(), threads, r.bits(), r.gweightsPerS());
        }
      }
    }
    Path tmp = Files.createTempFile(out.toAbsolutePath().getParent(), out.getFileName().toString(), ".tmp");
    json.writeValue(tmp.toFile(), root);
    Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    System.out.print(table);
  }
}
