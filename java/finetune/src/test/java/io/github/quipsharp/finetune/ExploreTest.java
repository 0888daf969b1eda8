package io.github.quipsharp.finetune;

import io.github.quipsharp.*;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.*;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExploreTest {
  @TempDir Path tmp;

  @Test
  void explore() throws Exception {
    Path model = SharedModels.require("stories260K-hf");
    Tokenizer tok = Tokenizer.forModel(model);
    int[] all = tok.encode(Files.readString(SharedModels.require("tinystories-sample.txt")), true, false);
    int[] cal = CalibrationSplit.calibration(all, 0.75);
    int[] held = CalibrationSplit.heldout(all, 0.75);
    ProgressListener pl = new ProgressListener() {
      public void tuningEpoch(String stage, int epoch, int epochs, double tr, double v) {
        System.out.printf("  %s epoch %d/%d train %.5f valid %.5f%n", stage, epoch, epochs, tr, v);
      }
    };
    QuantConfig cfg = QuantConfig.builder().bits(2).seed(1).build();
    long t0 = System.nanoTime();
    Path q = tmp.resolve("q");
    ModelQuantizer.quantize(model, cal, cfg, q, new ModelQuantizer.Options(256, 0, false, null));
    System.out.printf("quantize %.1f s ppl %.3f%n", (System.nanoTime() - t0) / 1e9, ppl(q, held));
    t0 = System.nanoTime();
    Path b = tmp.resolve("b");
    BlockwiseTuner bt = new BlockwiseTuner(FineTuneOptions.BLOCK_DEFAULTS.withEpochs(Integer.getInteger("ep", 0)));
    ModelQuantizer.quantize(model, cal, cfg, b, new ModelQuantizer.Options(256, 0, false, pl, bt));
    System.out.printf("block %.1f s (tuning %.1f) ppl %.3f%n", (System.nanoTime() - t0) / 1e9, bt.seconds(), ppl(b, held));
  }

  static double ppl(Path p, int[] held) {
    try (LlamaModel m = LlamaModel.load(p)) {
      return Perplexity.evaluate(m, held, 256, null).ppl();
    }
  }
}
