package io.github.quipsharp.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.Perplexity;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.finetune.BlockwiseTuner;
import io.github.quipsharp.finetune.EndToEndTuner;
import io.github.quipsharp.finetune.FineTuneOptions;
import io.github.quipsharp.internal.KernelBenchmarks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The README's fine-tuning rows: stories260K at 2 bits (Hessians and tuning data from the first
 * 75 % of tinystories-sample.txt, 215 windows: 143 train, 72 validate), held-out perplexity of the
 * last 25 %, seeds 1–3, with no fine-tuning, blockwise, end-to-end and both, at the default
 * settings ({@link FineTuneOptions#BLOCK_DEFAULTS}, {@link FineTuneOptions#E2E_DEFAULTS}); the
 * time of each stage and of one epoch.
 *
 * <p>Usage: {@code java -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 -cp bench/target/benchmarks.jar
 * io.github.quipsharp.bench.FineTuneQuality MODELS_DIR OUT.json [OUT.md] [SEEDS]}
 */
public final class FineTuneQuality {
  private static final String[] MODES = {"none", "block", "e2e", "both"};

  private FineTuneQuality() {}

  public static void main(String[] args) throws Exception {
    Path models = Path.of(args.length > 0 ? args[0] : "../shared/models");
    Path json = Path.of(args.length > 1 ? args[1] : "bench/results/stories260K-finetune.json");
    Path md = args.length > 2 ? Path.of(args[2]) : null;
    int seeds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
    StoriesSplit stories = StoriesSplit.load(models);
    Path model = stories.model();
    int[] cal = stories.calibration();
    int[] held = stories.heldout();
    double[][] ppl = new double[MODES.length][seeds];
    double[][] seconds = new double[MODES.length][seeds];
    double[][] epochSeconds = new double[MODES.length][seeds];
    ObjectMapper om = new ObjectMapper();
    ObjectNode root = om.createObjectNode();
    root.put("machine", KernelBenchmarks.machineDescription());
    root.set("block_options", om.valueToTree(FineTuneOptions.BLOCK_DEFAULTS));
    root.set("e2e_options", om.valueToTree(FineTuneOptions.E2E_DEFAULTS));
    ArrayNode runs = root.putArray("runs");
    Path tmp = Files.createTempDirectory("finetune-quality");
    for (int s = 0; s < seeds; s++) {
      long seed = s + 1;
      QuantConfig cfg = QuantConfig.builder().bits(2).seed(seed).build();
      Path plain = tmp.resolve("none-" + seed);
      long t0 = System.nanoTime();
      ModelQuantizer.quantize(model, cal, cfg, plain, ModelQuantizer.Options.defaults());
      double quantizeSeconds = (System.nanoTime() - t0) / 1e9;
      record(runs, ppl, seconds, 0, s, plain, held, quantizeSeconds, 0);
      Path block = tmp.resolve("block-" + seed);
      BlockwiseTuner bt = new BlockwiseTuner(FineTuneOptions.BLOCK_DEFAULTS.withSeed(seed));
      ModelQuantizer.quantize(model, cal, cfg, block, ModelQuantizer.Options.defaults().withTuner(bt));
      // 15 tunings (3 per layer) of up to 5 epochs each: the time of one tuning epoch.
      epochSeconds[1][s] = bt.seconds() / (15.0 * FineTuneOptions.BLOCK_DEFAULTS.epochs());
      record(runs, ppl, seconds, 1, s, block, held, bt.seconds(), epochSeconds[1][s]);
      for (int m : new int[] {2, 3}) {
        Path from = m == 2 ? plain : block;
        Path out = tmp.resolve(MODES[m] + "-" + seed);
        EndToEndTuner.Report r = EndToEndTuner.tune(from, model, cal, 256, out,
            FineTuneOptions.E2E_DEFAULTS.withSeed(seed), null);
        epochSeconds[m][s] = r.history().stream().skip(1).mapToDouble(e -> e.seconds()).average().orElse(0);
        record(runs, ppl, seconds, m, s, out, held, r.seconds() + (m == 3 ? seconds[1][s] : 0),
            epochSeconds[m][s]);
      }
    }
    StringBuilder table = new StringBuilder();
    table.append("| 2-bit stories260K | held-out ppl, mean (min–max) over seeds 1–" + seeds
        + " | fine-tuning time, mean | one epoch |\n|---|---|---|---|\n");
    String[] names = {"no fine-tuning", "blockwise (§6.2)", "end-to-end (§6.3)", "blockwise, then end-to-end"};
    for (int m = 0; m < MODES.length; m++) {
      double mean = java.util.Arrays.stream(ppl[m]).average().orElse(0);
      double min = java.util.Arrays.stream(ppl[m]).min().orElse(0);
      double max = java.util.Arrays.stream(ppl[m]).max().orElse(0);
      double sec = java.util.Arrays.stream(seconds[m]).average().orElse(0);
      double ep = java.util.Arrays.stream(epochSeconds[m]).average().orElse(0);
      table.append(String.format(Locale.ROOT, "| %s | %.2f (%.2f–%.2f) | %s | %s |%n", names[m],
          mean, min, max, m == 0 ? String.format(Locale.ROOT, "— (quantize %.1f s)", sec)
              : String.format(Locale.ROOT, "%.0f s", sec),
          m == 0 ? "—" : String.format(Locale.ROOT, "%.2f s", ep)));
    }
    Files.createDirectories(json.toAbsolutePath().getParent());
    Files.write(json, om.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    System.out.print(table);
    if (md != null) {
      Files.writeString(md, table);
    }
  }

  private static void record(ArrayNode runs, double[][] ppl, double[][] seconds, int m, int s,
      Path ck, int[] held, double sec, double epoch) {
    try (LlamaModel q = LlamaModel.load(ck)) {
      ppl[m][s] = Perplexity.evaluate(q, held, 256, null).ppl();
    }
    seconds[m][s] = sec;
    ObjectNode r = runs.addObject();
    r.put("mode", MODES[m]);
    r.put("seed", s + 1);
    r.put("heldout_ppl", ppl[m][s]);
    r.put("seconds", sec);
    r.put("seconds_per_epoch", epoch);
    System.out.printf(Locale.ROOT, "%s seed %d: ppl %.3f, %.1f s%n", r.get("mode").asText(), s + 1,
        ppl[m][s], sec);
  }
}
