package io.github.quipsharp.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.Perplexity;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.Rounding;
import io.github.quipsharp.internal.KernelBenchmarks;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The README's results table: stories260K (HF layout) quantized with Hessians from the first 75 % of
 * tinystories-sample.txt, perplexity on the held-out 25 %, seeds 1–3, for 4/3/2 bits and the 2-bit
 * ablation (a) nearest rounding without RHT, (b) RHT + nearest, (c) RHT + BlockLDLQ (QuIP#).
 * Also the checkpoint size, bits per linear weight and quantization time.
 *
 * <p>Usage: {@code java -cp bench/target/benchmarks.jar io.github.quipsharp.bench.StoriesQuality
 * MODELS_DIR OUT.json [OUT.md]}
 */
public final class StoriesQuality {
  private StoriesQuality() {}

  record Variant(String name, QuantConfig base) {}

  public static void main(String[] args) throws Exception {
    Path models = Path.of(args.length > 0 ? args[0] : "../shared/models");
    Path json = Path.of(args.length > 1 ? args[1] : "bench/results/stories260K-quality.json");
    Path md = args.length > 2 ? Path.of(args[2]) : null;
    StoriesSplit stories = StoriesSplit.load(models);
    Path model = stories.model();
    int[] cal = stories.calibration();
    int[] held = stories.heldout();
    double fp;
    try (LlamaModel m = LlamaModel.load(model)) {
      fp = Perplexity.evaluate(m, held, 256, null).ppl();
    }
    long fpBytes = Files.size(model.resolve("model.safetensors"));
    List<Variant> variants = List.of(
        new Variant("4-bit QuIP#", QuantConfig.builder().bits(4).build()),
        new Variant("3-bit QuIP#", QuantConfig.builder().bits(3).build()),
        new Variant("2-bit (c) QuIP#: RHT + BlockLDLQ", QuantConfig.builder().bits(2).build()),
        new Variant("2-bit (b) RHT + nearest", QuantConfig.builder().bits(2)
            .rounding(Rounding.NEAREST).refinePasses(0).build()),
        new Variant("2-bit (a) nearest, no RHT", QuantConfig.builder().bits(2)
            .rounding(Rounding.NEAREST).refinePasses(0).incoherence(false).build()));
    ObjectMapper om = new ObjectMapper();
    ObjectNode root = om.createObjectNode();
    root.put("machine", KernelBenchmarks.machineDescription());
    root.put("heldout_predictions", held.length - 1);
    root.put("ppl_fp32", fp);
    root.put("fp32_bytes", fpBytes);
    ArrayNode rows = root.putArray("variants");
    StringBuilder table = new StringBuilder();
    table.append("| model | held-out ppl, mean (min–max) over seeds 1–3 | × fp32 | checkpoint bytes "
        + "| bits per linear weight | quantize time, mean |\n|---|---|---|---|---|---|\n");
    table.append(String.format(Locale.ROOT, "| fp32 | %.4f | 1.00 | %,d | 32 | — |%n", fp, fpBytes));
    Path tmp = Files.createTempDirectory("stories-quality");
    for (Variant v : variants) {
      List<Double> ppl = new ArrayList<>();
      double seconds = 0;
      long bytes = 0;
      double bpw = 0;
      for (long seed = 1; seed <= 3; seed++) {
        Path out = tmp.resolve(v.name().replaceAll("[^a-z0-9]", "_") + "_" + seed);
        long t0 = System.nanoTime();
        ModelQuantizer.quantize(model, cal, v.base().toBuilder().seed(seed).build(), out,
            ModelQuantizer.Options.defaults());
        seconds += (System.nanoTime() - t0) / 1e9 / 3;
        try (LlamaModel q = LlamaModel.load(out)) {
          ppl.add(Perplexity.evaluate(q, held, 256, null).ppl());
        }
        bytes = Files.size(out.resolve("model.safetensors"));
        bpw = linearBits(out.resolve("model.safetensors"));
      }
      double mean = ppl.stream().mapToDouble(d -> d).average().orElse(0);
      double min = ppl.stream().mapToDouble(d -> d).min().orElse(0);
      double max = ppl.stream().mapToDouble(d -> d).max().orElse(0);
      ObjectNode r = rows.addObject();
      r.put("variant", v.name());
      r.putPOJO("ppl_by_seed", ppl);
      r.put("ppl_mean", mean);
      r.put("ratio_to_fp32", mean / fp);
      r.put("checkpoint_bytes", bytes);
      r.put("bits_per_linear_weight", bpw);
      r.put("quantize_seconds_mean", seconds);
      table.append(String.format(Locale.ROOT, "| %s | %.2f (%.2f–%.2f) | %.2f | %,d | %.2f | %.1f s |%n",
          v.name(), mean, min, max, mean / fp, bytes, bpw, seconds));
      System.out.println(v.name() + ": " + ppl + " mean " + mean);
    }
    Files.createDirectories(json.toAbsolutePath().getParent());
    Files.write(json, om.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    System.out.print(table);
    if (md != null) {
      Files.writeString(md, table);
    }
  }

  /**
   * Bits per weight of the quantized linear layers as stored: Qidxs, SU, SV, Wscale, codebook id
   * and fuse scales, over the true (unpadded) weight count of the groups.
   */
  static double linearBits(Path file) {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      long bits = 0;
      Map<String, long[]> groups = new LinkedHashMap<>();
      for (TensorInfo t : f.tensors()) {
        String n = t.name();
        if (n.contains("_proj.")) {
          bits += t.byteSize() * 8;
          if (n.endsWith(".SU")) {
            groups.computeIfAbsent(n.substring(0, n.length() - 3), k -> new long[2])[1] = t.dim(0);
          }
          if (n.endsWith(".SV")) {
            groups.computeIfAbsent(n.substring(0, n.length() - 3), k -> new long[2])[0] = t.dim(0);
          }
        }
      }
      // SU/SV have the RHT sizes, which for stories260K are the true sizes (64, 128, 172 and 344
      // are Hadamard orders; only the code columns of down_proj, 172 -> 176 -> 192, pad).
      long weights = 0;
      for (long[] g : groups.values()) {
        weights += g[0] * g[1];
      }
      return (double) bits / weights;
    }
  }
}
