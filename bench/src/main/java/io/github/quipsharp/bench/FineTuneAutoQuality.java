package io.github.quipsharp.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.Perplexity;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.finetune.BlockwiseTuner;
import io.github.quipsharp.finetune.EndToEndTuner;
import io.github.quipsharp.finetune.FineTuneOptions;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.KernelBenchmarks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * The README's "fine-tuning at the defaults" rows: stories260K at 2 bits, for each seed the
 * untuned checkpoint and {@code quantize --finetune both} at the command line's defaults
 * (learning rates swept on the validation windows, epochs until early stopping:
 * {@link FineTuneOptions#BLOCK_AUTO}, {@link FineTuneOptions#E2E_AUTO}), all tuning data from the
 * first 75 % of tinystories-sample.txt (215 windows: 143 train, 72 validate); held-out perplexity
 * of the last 25 % and the fraction of the log-perplexity gap closed,
 * (ln ppl_2bit − ln ppl_tuned) / (ln ppl_2bit − ln ppl_fp32). One JSON line per seed is appended
 * to OUT as soon as the seed is done.
 *
 * <p>Usage: {@code java -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 -cp bench/target/benchmarks.jar
 * io.github.quipsharp.bench.FineTuneAutoQuality MODELS_DIR OUT.jsonl SEED...}
 */
public final class FineTuneAutoQuality {
  private FineTuneAutoQuality() {}

  public static void main(String[] args) throws Exception {
    Path models = Path.of(args[0]);
    Path out = Path.of(args[1]);
    StoriesSplit stories = StoriesSplit.load(models);
    Path model = stories.model();
    int[] cal = stories.calibration();
    double fp32 = ppl(model, stories.heldout());
    ObjectMapper om = new ObjectMapper();
    Path tmp = Files.createTempDirectory("finetune-auto");
    for (int i = 2; i < args.length; i++) {
      long seed = Long.parseLong(args[i]);
      QuantConfig cfg = QuantConfig.builder().bits(2).seed(seed).build();
      Path plain = tmp.resolve("none-" + seed);
      ModelQuantizer.quantize(model, cal, cfg, plain, ModelQuantizer.Options.defaults());
      double untuned = ppl(plain, stories.heldout());
      Path both = tmp.resolve("both-" + seed);
      long t0 = System.nanoTime();
      BlockwiseTuner bt = new BlockwiseTuner(FineTuneOptions.BLOCK_AUTO.withSeed(seed));
      ModelQuantizer.quantize(model, cal, cfg, both, ModelQuantizer.Options.defaults().withTuner(bt));
      double blockSeconds = (System.nanoTime() - t0) / 1e9;
      double afterBlock = ppl(both, stories.heldout());
      EndToEndTuner.Report r = EndToEndTuner.tune(both, model, cal, 256, both,
          FineTuneOptions.E2E_AUTO.withSeed(seed), null);
      double tuned = ppl(both, stories.heldout());
      JsonNode q;
      try (QuantizedCheckpoint.Contents c = QuantizedCheckpoint.open(both)) {
        q = CoreInternals.json(c).path("quipsharp");
      }
      ObjectNode o = om.createObjectNode();
      o.put("machine", KernelBenchmarks.machineDescription());
      o.put("seed", seed);
      o.put("fp32_ppl", fp32);
      o.put("untuned_ppl", untuned);
      o.put("blockwise_ppl", afterBlock);
      o.put("tuned_ppl", tuned);
      o.put("gap_fraction", (Math.log(untuned) - Math.log(tuned)) / (Math.log(untuned) - Math.log(fp32)));
      o.put("blockwise_seconds", blockSeconds);
      o.put("e2e_seconds", r.seconds());
      o.put("blockwise_summary", bt.summary());
      o.put("e2e_summary", EndToEndTuner.describe(r));
      o.set("blockwise_record", q.path("blockwise_finetune_record"));
      o.set("e2e_record", q.path("finetune"));
      Files.writeString(out, om.writeValueAsString(o) + "\n", StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
      System.out.printf(Locale.ROOT, "seed %d: ppl fp32 %.3f, 2-bit %.3f, blockwise %.3f, both %.3f; "
          + "gap closed %.1f %%; blockwise %s; e2e %s%n", seed, fp32, untuned, afterBlock, tuned,
          100 * o.get("gap_fraction").asDouble(), bt.summary(), EndToEndTuner.describe(r));
    }
  }

  static double ppl(Path model, int[] heldout) {
    try (LlamaModel m = LlamaModel.load(model)) {
      return Perplexity.evaluate(m, heldout, 256, null).ppl();
    }
  }
}
