package io.github.quipsharp.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ActivationPrecision;
import io.github.quipsharp.CpuKernel;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.NativeThreads;
import io.github.quipsharp.Sampler;
import io.github.quipsharp.cli.options.ActivationBitsOption;
import io.github.quipsharp.cli.options.MatrixShapeOptions;
import io.github.quipsharp.cli.options.ModelOption;
import io.github.quipsharp.cli.options.NativeThreadsOption;
import io.github.quipsharp.internal.KernelBenchmarks;
import io.github.quipsharp.model.LlamaConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * quipsharp bench: kernel benchmarks. Each subcommand prints a short human-readable summary and, as
 * the last line of stdout, one JSON object (other tools parse it).
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Benchmarks of the native kernels; the last line of stdout is a JSON object.",
    subcommands = {BenchCommand.Matvec.class, BenchCommand.Memory.class, BenchCommand.Generate.class})
final class BenchCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** The JSON line of a benchmark, begun with its name and the machine it ran on. */
  static ObjectNode result(String benchmark) {
    ObjectNode json = JsonLine.object();
    json.put("benchmark", benchmark);
    json.put("machine", KernelBenchmarks.machineDescription());
    return json;
  }

  @Command(
      name = "matvec",
      mixinStandardHelpOptions = true,
      description = {
        "Times one layer's y = W x on random weights, cycling over distinct layers so that the",
        "working set exceeds the last-level cache. Bits 2/3/4: the quantized inference path (input",
        "RHT, integer codebook mat-vec, output RHT); 16/32: fp16/fp32 mat-vec.",
        "JSON keys: seconds_per_call, gweights_per_s, weight_gbytes_per_s, fp32_equiv_gbytes_per_s,",
        "and the settings."
      })
  static final class Matvec implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin MatrixShapeOptions shape;

    @Option(names = "--bits", defaultValue = "2", description = "2, 3, 4, 16 or 32 (default: ${DEFAULT-VALUE}).")
    int bits;

    @CommandLine.Mixin NativeThreadsOption threads;

    @Option(
        names = "--layers",
        defaultValue = "0",
        description = "Distinct matrices to cycle over (default: enough for 4x the last-level cache).")
    int layers;

    @Option(names = "--seconds", defaultValue = "2", description = "Minimum timed duration (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--kernel", defaultValue = "AUTO", description = "AUTO, SCALAR, AVX2 or AVX512 (default: ${DEFAULT-VALUE}).")
    CpuKernel kernel;

    @CommandLine.Mixin ActivationBitsOption activationBits;

    @Override
    public Integer call() {
      int rows = shape.rows();
      int cols = shape.cols();
      threads.apply();
      activationBits.apply();
      KernelBenchmarks.MatvecResult r =
          KernelBenchmarks.matvec(bits, rows, cols, layers, kernel, seconds);
      PrintWriter out = spec.commandLine().getOut();
      CpuKernel selected = kernel.resolved();
      out.printf(Locale.ROOT,
          "matvec %d x %d, %d bits, %d threads, kernel %s, %d layers of %.1f MiB: %.4f ms/call,"
              + " %.2f G weights/s, %.2f GB/s weight bytes, %.2f GB/s fp32-equivalent%n",
          rows, cols, bits, r.threads(),
          kernel == CpuKernel.AUTO ? "AUTO (" + selected + ")" : kernel.name(), r.layers(),
          r.weightBytesPerLayer() / 1048576.0,
          r.secondsPerCall() * 1e3, r.gweightsPerS(), r.weightGbytesPerS(),
          r.fp32EquivGbytesPerS());
      ObjectNode json = result("matvec");
      json.put("rows", rows);
      json.put("cols", cols);
      json.put("bits", bits);
      json.put("threads", r.threads());
      json.put("kernel", kernel.name().toLowerCase(Locale.ROOT));
      json.put("kernel_selected", selected.name().toLowerCase(Locale.ROOT));
      json.put("activation_bits", ActivationPrecision.get());
      json.put("layers", r.layers());
      json.put("calls", r.calls());
      json.put("weight_bytes_per_layer", r.weightBytesPerLayer());
      json.put("seconds_per_call", r.secondsPerCall());
      json.put("gweights_per_s", r.gweightsPerS());
      json.put("weight_gbytes_per_s", r.weightGbytesPerS());
      json.put("fp32_equiv_gbytes_per_s", r.fp32EquivGbytesPerS());
      JsonLine.print(out, json);
      return 0;
    }
  }

  @Command(
      name = "memory",
      mixinStandardHelpOptions = true,
      description = {
        "Measures this machine's streaming read bandwidth (a vectorized sum) and memcpy bandwidth",
        "(bytes copied per second) over buffers far larger than the caches.",
        "JSON keys: read_gbytes_per_s, memcpy_gbytes_per_s, and the settings."
      })
  static final class Memory implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin NativeThreadsOption threads;

    @Option(names = "--bytes", defaultValue = "0", description = "Buffer size (default: max(256 MiB, 8x the last-level cache)).")
    long bytes;

    @Option(names = "--seconds", defaultValue = "1", description = "Minimum timed duration per measurement (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Override
    public Integer call() {
      threads.apply();
      KernelBenchmarks.MemoryResult r = KernelBenchmarks.memory(bytes, seconds);
      PrintWriter out = spec.commandLine().getOut();
      out.printf(Locale.ROOT, "memory, %d threads, %d MiB buffers: read %.2f GB/s, memcpy %.2f GB/s%n",
          r.threads(), r.bytes() >> 20, r.readGbytesPerS(), r.memcpyGbytesPerS());
      ObjectNode json = result("memory");
      json.put("threads", r.threads());
      json.put("bytes", r.bytes());
      json.put("read_gbytes_per_s", r.readGbytesPerS());
      json.put("memcpy_gbytes_per_s", r.memcpyGbytesPerS());
      JsonLine.print(out, json);
      return 0;
    }
  }

  @Command(
      name = "generate",
      mixinStandardHelpOptions = true,
      description = {
        "Generation speed of a model (fp or quantized): prefills a one-token prompt (BOS), runs",
        "--warmup decoding steps, then times --tokens steps of one token each over the KV cache",
        "(forward pass plus greedy sampling; no text output).",
        "JSON keys: tokens_per_s, seconds_per_token, weight_bytes_per_token, head_bytes_per_token",
        "(the output layer's part of them), head_share, and the settings."
      })
  static final class Generate implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin ModelOption modelOption;

    @Option(names = "--tokens", defaultValue = "64", description = "Timed decoding steps (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--warmup", defaultValue = "4", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @CommandLine.Mixin NativeThreadsOption threads;

    @CommandLine.Mixin ActivationBitsOption activationBits;

    @Override
    public Integer call() {
      threads.apply();
      activationBits.apply();
      if (tokens < 1 || warmup < 0) {
        throw new IllegalArgumentException("--tokens must be >= 1 and --warmup >= 0");
      }
      PrintWriter out = spec.commandLine().getOut();
      Path model = modelOption.path();
      try (LlamaModel m = LlamaModel.load(model)) {
        LlamaConfig c = m.config();
        if (1 + warmup + tokens > c.maxSeqLen()) {
          throw new IllegalArgumentException("1 + --warmup + --tokens = " + (1 + warmup + tokens)
              + " exceeds the model's context of " + c.maxSeqLen());
        }
        Sampler greedy = Sampler.greedy();
        float[] logits = m.forward(new int[] {c.bosId()}, 0, false);
        int pos = 1;
        long start = 0;
        for (int i = 0; i < warmup + tokens; i++) {
          if (i == warmup) {
            start = System.nanoTime();
          }
          logits = m.forward(new int[] {greedy.sample(logits)}, pos++, false);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double tps = tokens / seconds;
        int bits = m.quantization() == null ? 16 : m.quantization().config().bits();
        out.printf(Locale.ROOT, "generate %s, %d threads: %.2f tokens/s (%.2f ms/token, %,d weight "
            + "bytes per token, %.1f %% of them the output layer's)%n", model,
            NativeThreads.get(), tps, 1e3 * seconds / tokens, m.weightBytes(),
            100.0 * m.headBytes() / m.weightBytes());
        ObjectNode json = result("generate");
        json.put("model", model.toString());
        json.put("quantized_bits", m.quantization() == null ? 0 : bits);
        json.put("threads", NativeThreads.get());
        json.put("activation_bits", ActivationPrecision.get());
        json.put("kernel_selected", CpuKernel.selected().name().toLowerCase(Locale.ROOT));
        json.put("tokens", tokens);
        json.put("warmup", warmup);
        json.put("tokens_per_s", tps);
        json.put("seconds_per_token", seconds / tokens);
        json.put("weight_bytes_per_token", m.weightBytes());
        // The fp16 head's part of those bytes: at a 128k vocabulary it dominates a quantized model.
        json.put("head_bytes_per_token", m.headBytes());
        json.put("head_share", (double) m.headBytes() / m.weightBytes());
        json.put("vocab_size", c.vocabSize());
        json.put("architecture", c.architecture());
        JsonLine.print(out, json);
      }
      return 0;
    }
  }
}
