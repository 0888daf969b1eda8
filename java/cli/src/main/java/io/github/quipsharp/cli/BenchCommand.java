package io.github.quipsharp.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ActivationPrecision;
import io.github.quipsharp.CpuKernel;
import io.github.quipsharp.internal.KernelBenchmarks;
import io.github.quipsharp.NativeThreads;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
  static final ObjectMapper JSON = new ObjectMapper();

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  static void threads(Integer threads) {
    if (threads != null) {
      NativeThreads.set(threads);
    }
  }

  static void activationBits(Integer bits) {
    if (bits != null) {
      ActivationPrecision.set(bits);
    }
  }

  static final String ACTIVATION_BITS_HELP =
      "Integer precision of the rotated activation in the CPU codebook kernels: 8 or 16 (default:"
          + " $QUIPSHARP_ACTIVATION_BITS, else 8; 16 is about half as fast on AVX-512).";

  static void printJson(PrintWriter out, ObjectNode node) {
    try {
      out.println(JSON.writeValueAsString(node));
    } catch (IOException e) {
      throw new IllegalStateException("cannot write JSON: " + e.getMessage(), e);
    }
    out.flush();
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

    @Option(names = "--rows", required = true, description = "Output features of the layer.")
    int rows;

    @Option(names = "--cols", required = true, description = "Input features of the layer.")
    int cols;

    @Option(names = "--bits", defaultValue = "2", description = "2, 3, 4, 16 or 32 (default: ${DEFAULT-VALUE}).")
    int bits;

    @Option(names = "--threads", description = "Native threads (default: all hardware threads).")
    Integer threads;

    @Option(
        names = "--layers",
        defaultValue = "0",
        description = "Distinct matrices to cycle over (default: enough for 4x the last-level cache).")
    int layers;

    @Option(names = "--seconds", defaultValue = "2", description = "Minimum timed duration (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--kernel", defaultValue = "AUTO", description = "AUTO, SCALAR, AVX2 or AVX512 (default: ${DEFAULT-VALUE}).")
    CpuKernel kernel;

    @Option(names = "--activation-bits", description = ACTIVATION_BITS_HELP)
    Integer activationBits;

    @Override
    public Integer call() {
      threads(threads);
      activationBits(activationBits);
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
      ObjectNode json = JSON.createObjectNode();
      json.put("benchmark", "matvec");
      json.put("machine", KernelBenchmarks.machineDescription());
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
      printJson(out, json);
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

    @Option(names = "--threads", description = "Native threads (default: all hardware threads).")
    Integer threads;

    @Option(names = "--bytes", defaultValue = "0", description = "Buffer size (default: max(256 MiB, 8x the last-level cache)).")
    long bytes;

    @Option(names = "--seconds", defaultValue = "1", description = "Minimum timed duration per measurement (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Override
    public Integer call() {
      threads(threads);
      KernelBenchmarks.MemoryResult r = KernelBenchmarks.memory(bytes, seconds);
      PrintWriter out = spec.commandLine().getOut();
      out.printf(Locale.ROOT, "memory, %d threads, %d MiB buffers: read %.2f GB/s, memcpy %.2f GB/s%n",
          r.threads(), r.bytes() >> 20, r.readGbytesPerS(), r.memcpyGbytesPerS());
      ObjectNode json = JSON.createObjectNode();
      json.put("benchmark", "memory");
      json.put("machine", KernelBenchmarks.machineDescription());
      json.put("threads", r.threads());
      json.put("bytes", r.bytes());
      json.put("read_gbytes_per_s", r.readGbytesPerS());
      json.put("memcpy_gbytes_per_s", r.memcpyGbytesPerS());
      printJson(out, json);
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

    @Option(names = "--model", required = true, description = "Model folder or llama2.c .bin (fp or quantized).")
    java.nio.file.Path model;

    @Option(names = "--tokens", defaultValue = "64", description = "Timed decoding steps (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--warmup", defaultValue = "4", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--threads", description = "Native threads (default: all hardware threads).")
    Integer threads;

    @Option(names = "--activation-bits", description = ACTIVATION_BITS_HELP)
    Integer activationBits;

    @Override
    public Integer call() {
      threads(threads);
      activationBits(activationBits);
      if (tokens < 1 || warmup < 0) {
        throw new IllegalArgumentException("--tokens must be >= 1 and --warmup >= 0");
      }
      PrintWriter out = spec.commandLine().getOut();
      try (io.github.quipsharp.LlamaModel m = io.github.quipsharp.LlamaModel.load(model)) {
        io.github.quipsharp.model.LlamaConfig c = m.config();
        if (1 + warmup + tokens > c.maxSeqLen()) {
          throw new IllegalArgumentException("1 + --warmup + --tokens = " + (1 + warmup + tokens)
              + " exceeds the model's context of " + c.maxSeqLen());
        }
        io.github.quipsharp.Sampler greedy = io.github.quipsharp.Sampler.greedy();
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
            io.github.quipsharp.NativeThreads.get(), tps, 1e3 * seconds / tokens, m.weightBytes(),
            100.0 * m.headBytes() / m.weightBytes());
        ObjectNode json = JSON.createObjectNode();
        json.put("benchmark", "generate");
        json.put("machine", KernelBenchmarks.machineDescription());
        json.put("model", model.toString());
        json.put("quantized_bits", m.quantization() == null ? 0 : bits);
        json.put("threads", io.github.quipsharp.NativeThreads.get());
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
        printJson(out, json);
      }
      return 0;
    }
  }
}
