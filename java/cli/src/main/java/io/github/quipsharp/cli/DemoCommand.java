package io.github.quipsharp.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.Generation;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.Perplexity;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.Sampler;
import io.github.quipsharp.cli.options.FlagChecks;
import io.github.quipsharp.cli.options.NativeThreadsOption;
import io.github.quipsharp.cli.options.TokenizerOption;
import io.github.quipsharp.finetune.EndToEndTuner;
import io.github.quipsharp.finetune.FineTuneOptions;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** demo: the README's main job on the real stories260K model. */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Quantizes the real stories260K model (shared/models/stories260K-hf) with QuIP# using the",
      "first 75 %% of tinystories-sample.txt as calibration text, measures the perplexity of the",
      "fp32 and the quantized model on the held-out last 25 %%, fine-tunes the quantized model end",
      "to end over libtorch (--finetune e2e, the default; codes fixed) and measures it again, and",
      "generates a story with each model (greedy), so that they can be compared."
    })
final class DemoCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--models", description = "The shared/models folder (default: found by walking up from here).")
  Path models;

  @Option(names = "--bits", defaultValue = "2", description = "2, 3 or 4 (default: ${DEFAULT-VALUE}).")
  int bits;

  @Option(names = "--seed", defaultValue = "1", description = "Quantization seed (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--out", description = "Checkpoint folder (default: a new temporary folder).")
  Path out;

  @Option(names = "--prompt", defaultValue = "Once upon a time", description = "Story prompt (default: ${DEFAULT-VALUE}).")
  String prompt;

  @Option(names = "--max-tokens", defaultValue = "200", description = "Story length in tokens (default: ${DEFAULT-VALUE}).")
  int maxTokens;

  @CommandLine.Mixin NativeThreadsOption threads;

  @Option(names = "--finetune", defaultValue = "e2e",
      description = "e2e: fine-tune the quantized model end to end (5 epochs, about a minute on 2 "
          + "cores); none: skip it (default: ${DEFAULT-VALUE}).")
  DemoTuning finetune;

  @CommandLine.Mixin FineTuneFlags ft;

  enum DemoTuning {
    none,
    e2e
  }

  @Override
  public Integer call() throws IOException {
    FlagChecks.oneOf("--bits", bits, 2, 3, 4);
    FlagChecks.atLeast("--max-tokens", maxTokens, 0);
    ft.validate();
    threads.apply();
    PrintWriter o = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Path dir = ModelsFolder.find(models);
    Path model = dir.resolve("stories260K-hf");
    Path text = dir.resolve("tinystories-sample.txt");
    Path ckpt = out != null ? out : Files.createTempDirectory("quipsharp-demo-");
    Tokenizer tok = TokenizerOption.open(model, null);
    int[] all = TextInput.tokens(tok, text, "text file");
    int[] cal = CalibrationSplit.calibration(all, CalibrationSplit.DEFAULT_FRACTION);
    int[] held = CalibrationSplit.heldout(all, CalibrationSplit.DEFAULT_FRACTION);
    o.printf(Locale.ROOT, "quipsharp demo: stories260K, %d-bit QuIP#, seed %d%n", bits, seed);
    o.printf(Locale.ROOT, "text %s: %d tokens; calibration %d, held-out %d%n", text, all.length,
        cal.length, held.length);
    o.flush();
    QuantConfig cfg = QuantConfig.builder().bits(bits).seed(seed).build();
    long t0 = System.nanoTime();
    ConsoleProgress quantizing = new ConsoleProgress(o, err);
    quantizing.during(() -> ModelQuantizer.quantize(model, cal, cfg, ckpt,
        ModelQuantizer.Options.defaults().withListener(quantizing)));
    double quantSeconds = (System.nanoTime() - t0) / 1e9;
    ObjectNode json = JsonLine.object();
    Path tuned = null;
    double tuneSeconds = 0;
    if (finetune == DemoTuning.e2e) {
      FineTuneOptions opt = ft.apply(FineTuneOptions.E2E_DEFAULTS, seed, false);
      tuned = ckpt.resolveSibling(ckpt.getFileName() + "-e2e");
      o.printf(Locale.ROOT, "%nfine-tuning end to end into %s (%d epochs)%n", tuned, opt.epochs());
      o.flush();
      Path tunedOut = tuned;
      ConsoleProgress tuning = new ConsoleProgress(o, err);
      EndToEndTuner.Report r = tuning.during(
          () -> EndToEndTuner.tune(ckpt, model, cal, 256, tunedOut, opt, tuning));
      tuneSeconds = r.seconds();
    }
    try (LlamaModel f = LlamaModel.load(model); LlamaModel m = LlamaModel.load(ckpt);
        LlamaModel t = tuned != null ? LlamaModel.load(tuned) : null) {
      Perplexity.Result fp = Perplexity.evaluate(f, held, 256, null);
      Perplexity.Result q = Perplexity.evaluate(m, held, 256, null);
      o.printf(Locale.ROOT, "%nquantized in %.1f s into %s (%,d bytes of weights read per token)%n",
          quantSeconds, ckpt, m.weightBytes());
      o.printf(Locale.ROOT, "held-out perplexity (%d predictions): fp32 %.4f, %d-bit %.4f (x%.2f)%n",
          q.predictions(), fp.ppl(), bits, q.ppl(), q.ppl() / fp.ppl());
      Perplexity.Result tp = null;
      if (t != null) {
        tp = Perplexity.evaluate(t, held, 256, null);
        o.printf(Locale.ROOT, "fine-tuned end to end in %.1f s: held-out perplexity %.4f (x%.2f)%n",
            tuneSeconds, tp.ppl(), tp.ppl() / fp.ppl());
      }
      o.printf(Locale.ROOT, "%nstory from the fp32 model (greedy), for comparison:%n");
      GenerationPrinter.continuation(f, tok, prompt, maxTokens, Sampler.greedy(), o, false);
      o.printf(Locale.ROOT, "%nstory from the %d-bit model (greedy):%n", bits);
      Generation.Result g = GenerationPrinter.continuation(m, tok, prompt, maxTokens, Sampler.greedy(),
          o, false);
      o.printf(Locale.ROOT, "%d new tokens, %.1f tokens/s%n", g.tokens().length, g.tokensPerSecond());
      if (t != null) {
        o.printf(Locale.ROOT, "%nstory from the fine-tuned %d-bit model (greedy):%n", bits);
        Generation.Result gt = GenerationPrinter.continuation(t, tok, prompt, maxTokens,
            Sampler.greedy(), o, false);
        o.printf(Locale.ROOT, "%d new tokens, %.1f tokens/s%n", gt.tokens().length, gt.tokensPerSecond());
        json.put("finetuned_checkpoint", tuned.toString());
        json.put("finetune_seconds", tuneSeconds);
        json.put("ppl_finetuned", tp.ppl());
      }
      json.put("checkpoint", ckpt.toString());
      json.put("bits", bits);
      json.put("seed", seed);
      json.put("quantize_seconds", quantSeconds);
      json.put("predictions", q.predictions());
      json.put("ppl_fp32", fp.ppl());
      json.put("ppl", q.ppl());
      json.put("tokens_per_s", g.tokensPerSecond());
    }
    JsonLine.print(o, json);
    return 0;
  }
}
