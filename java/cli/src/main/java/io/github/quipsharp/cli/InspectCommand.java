package io.github.quipsharp.cli;

import io.github.quipsharp.LayerReport;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.QuantizationInfo;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.cli.options.ModelOption;
import io.github.quipsharp.cli.options.VerificationOption;
import io.github.quipsharp.internal.JsonFiles;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.safetensors.ContentDigest;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** inspect: what a model or checkpoint holds. */
@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    description = "Prints a model's config, its layers, and for a quantized checkpoint the bits, "
        + "the padded shapes (QUIPSHARP.md §10.6), each layer group's relative proxy loss, and the "
        + "sizes on disk and in memory.")
final class InspectCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Mixin ModelOption modelOption;

  @Option(names = "--verify",
      description = "Only check a quantized checkpoint against the digests its config.json records "
          + "(every tensor's bytes, every config field), without loading it, and print the result.")
  boolean verify;

  @CommandLine.Mixin VerificationOption verification;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Path model = modelOption.path();
    if (verify && !verification.verify()) {
      throw new IllegalArgumentException("--verify and --no-verify exclude each other");
    }
    if (verify) {
      ModelSource.checkPath(model);
      if (!QuantizedCheckpoint.isCheckpoint(model)) {
        throw new IllegalArgumentException("--verify checks quantized checkpoints; " + model
            + " is not one (no config.json with quip_params)");
      }
      QuantizedCheckpoint.Verification v = QuantizedCheckpoint.verify(model);
      out.printf(Locale.ROOT, "%s: verified %d tensors (%,d bytes) and %d config fields against "
              + "their %s digests in %.3f s%n", model, v.tensors(), v.bytes(), v.configFields(),
          ContentDigest.ALGORITHM, v.seconds());
      out.flush();
      return 0;
    }
    try (LlamaModel m = LlamaModel.load(model, verification.loadOptions(err))) {
      LlamaConfig c = m.config();
      QuantizationInfo q = m.quantization();
      out.printf(Locale.ROOT, "model %s%n", model);
      out.printf(Locale.ROOT, "  architecture %s (family %s), %s RoPE (theta %s), norm eps %.1e%n",
          c.architecture(), c.family().modelType(),
          c.ropeInterleaved() ? "interleaved (llama2.c)" : "rotate-half (HF)",
          new java.math.BigDecimal(c.ropeTheta()).stripTrailingZeros().toPlainString(), c.normEps());
      out.printf(Locale.ROOT, "  RoPE %s, rotating %d of %d dims per head%n", c.rope().describe(),
          c.rope().rotaryDim(c.headDim()), c.headDim());
      out.printf(Locale.ROOT, "  block: %s%n", c.options().describe());
      out.printf(Locale.ROOT, "  dim %d, hidden %d, layers %d, heads %d, kv heads %d, head dim %d, "
              + "vocab %d, context %d, %s embeddings%n", c.dim(), c.hiddenDim(), c.layers(),
          c.heads(), c.kvHeads(), c.headDim(), c.vocabSize(), c.maxSeqLen(),
          c.tiedEmbeddings() ? "tied" : "untied");
      out.printf(Locale.ROOT, "  parameters %,d%n", c.parameterCount());
      long disk = diskBytes(model);
      out.printf(Locale.ROOT, "  on disk %,d bytes (%.3f bits per parameter)%n", disk,
          8.0 * disk / c.parameterCount());
      out.printf(Locale.ROOT, "  weights read per token %,d bytes%n", m.weightBytes());
      if (q == null) {
        out.println("  not quantized");
      } else if (!JsonFiles.read(model.resolve("config.json")).has("quipsharp")) {
        // A published QuIP# checkpoint (reference layout, §8.3) records only its codebook.
        out.printf(Locale.ROOT, "  quantized: %d bits, published QuIP# layout (no quipsharp section: the "
            + "rounding, seed and per-group proxy losses are not recorded)%n", q.config().bits());
      } else {
        out.printf(Locale.ROOT, "  quantized: %d bits, %s rounding, %s, seed %d, refine passes %d, "
                + "damping %.3g%n", q.config().bits(), q.config().rounding(),
            q.config().incoherence() ? "RHT" : "no RHT", q.config().seed(),
            q.config().refinePasses(), q.config().damping());
        out.printf(Locale.ROOT, "  padded layer groups: %s%n", q.anyPadded() ? "yes (below)" : "none");
        for (LayerReport r : q.layers()) {
          out.printf(Locale.ROOT, "    %-12s %-40s relative proxy loss %.6f%n", r.name(),
              r.shape().describe(), r.relativeProxyLoss());
        }
      }
    }
    return 0;
  }

  static long diskBytes(Path p) throws IOException {
    if (!Files.isDirectory(p)) {
      return Files.size(p);
    }
    long total = 0;
    try (Stream<Path> s = Files.list(p)) {
      for (Path f : s.filter(x -> x.getFileName().toString().endsWith(".safetensors")
          || x.getFileName().toString().endsWith(".bin") && !x.getFileName().toString().startsWith("tok")).toList()) {
        total += Files.size(f);
      }
    }
    return total;
  }
}
