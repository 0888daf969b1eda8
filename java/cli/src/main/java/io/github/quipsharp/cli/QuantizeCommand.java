package io.github.quipsharp.cli;

import io.github.quipsharp.LayerReport;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizationInfo;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.cli.options.CalibrationOptions;
import io.github.quipsharp.cli.options.NativeThreadsOption;
import io.github.quipsharp.cli.options.QuantizationOptions;
import io.github.quipsharp.cli.options.RunFolderOptions;
import io.github.quipsharp.cli.options.SourceModelOptions;
import io.github.quipsharp.finetune.BlockwiseTuner;
import io.github.quipsharp.finetune.EndToEndTuner;
import io.github.quipsharp.finetune.FineTuneOptions;
import io.github.quipsharp.finetune.FineTuning;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** quantize: a whole model to a QuIP# checkpoint. */
@Command(
    name = "quantize",
    mixinStandardHelpOptions = true,
    description = {
      "Quantizes every linear layer of a Llama-family model with QuIP# (RHT + E8P12 lattice",
      "codebook, RVQ for 3/4 bits, BlockLDLQ with Hessians from calibration text) and writes a",
      "checkpoint folder (safetensors + config.json). Embeddings, norms and the output layer are",
      "kept in fp16. Each finished layer is saved: an interrupted run continues with --resume.",
      "With --finetune the continuous parts (sign vectors, norms, head) are then trained."
    })
final class QuantizeCommand implements Callable<Integer> {
  enum FinetuneMode {
    none,
    block,
    e2e,
    both
  }

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--finetune", defaultValue = "none",
      description = "Fine-tuning over libtorch (codes stay fixed): none, block (each block after "
          + "each of its groups, during quantization), e2e (the whole model afterwards, against the "
          + "fp model's outputs) or both (default: ${DEFAULT-VALUE}).")
  FinetuneMode finetune;

  @CommandLine.Mixin FineTuneFlags ft;

  @CommandLine.Mixin SourceModelOptions source;

  @CommandLine.Mixin QuantizationOptions quantization;

  @CommandLine.Mixin CalibrationOptions calibration;

  @CommandLine.Mixin RunFolderOptions output;

  @CommandLine.Mixin NativeThreadsOption threads;

  @Override
  public Integer call() {
    QuantConfig cfg = quantization.config();
    calibration.validate();
    ft.validate();
    threads.apply();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Path model = source.path();
    Path outDir = output.path();
    boolean resume = output.resume();
    int ctx = calibration.ctx();
    Tokenizer tok = source.openTokenizer();
    int[] all = TextInput.tokens(tok, calibration.file(), "calibration file");
    int[] cal = calibration.calibrationPart(all);
    // Printed when the run has passed its checks (the first progress report), so that a refused
    // run prints nothing on stdout.
    String header = String.format(Locale.ROOT, "quantize %s to %d bits (%s), calibration %s: %d "
        + "of %d tokens%n", model, cfg.bits(), quantization.describe(), calibration.file(),
        cal.length, all.length);
    long start = System.nanoTime();
    boolean block = finetune == FinetuneMode.block || finetune == FinetuneMode.both;
    boolean e2e = finetune == FinetuneMode.e2e || finetune == FinetuneMode.both;
    FineTuning.setThreads(threads.value());
    ModelQuantizer.Options opt = ModelQuantizer.Options.builder().ctx(ctx)
        .samples(calibration.samples()).resume(resume)
        .allowLongerContext(calibration.context().allowed()).build();
    // Both stages' settings are checked before anything runs.
    long seed = quantization.seed();
    FineTuneOptions e2eOpt = e2e ? ft.apply(FineTuneOptions.E2E_AUTO, seed, resume) : null;
    BlockwiseTuner tuner = null;
    if (block) {
      FineTuneOptions blockOpt = ft.apply(FineTuneOptions.BLOCK_AUTO, seed, false);
      tuner = new BlockwiseTuner(blockOpt);
      opt = opt.withTuner(tuner);
      out.printf(Locale.ROOT, "blockwise fine-tuning: %s%n", FineTuneFlags.describeRates(blockOpt));
    }
    if (e2e) {
      out.printf(Locale.ROOT, "end-to-end fine-tuning: %s%n", FineTuneFlags.describeRates(e2eOpt));
    }
    QuantizationInfo info;
    if (e2e && resume && QuantizedCheckpoint.isCheckpoint(outDir)
        && !Files.exists(outDir.resolve(ModelQuantizer.PARTIAL))) {
      info = QuantizedCheckpoint.readInfo(outDir);
      out.print(header);
      out.println("quantization finished before; resuming its fine-tuning");
    } else {
      ConsoleProgress progress = new ConsoleProgress(out, err, header);
      ModelQuantizer.Options withProgress = opt.withListener(progress);
      try {
        info = progress.during(() -> ModelQuantizer.quantize(model, cal, cfg, outDir, withProgress));
      } catch (RuntimeException e) {
        throw progress.started() && Files.isDirectory(outDir.resolve(ModelQuantizer.PARTIAL))
            ? new IllegalStateException(Main.errors().messageOf(e) + "; the finished "
                + "layer groups are kept in " + outDir.resolve(ModelQuantizer.PARTIAL) + ": the "
                + "same command with --resume continues the run, deleting " + outDir
                + " starts over", e)
            : e;
      }
      out.printf(Locale.ROOT, "wrote %s in %.1f s%s%n", outDir, (System.nanoTime() - start) / 1e9,
          tuner != null ? String.format(Locale.ROOT, " (%.1f s of it blockwise tuning)", tuner.seconds()) : "");
      if (tuner != null && !tuner.summary().isEmpty()) {
        out.println("blockwise fine-tuning: " + tuner.summary());
      }
    }
    out.printf(Locale.ROOT, "mean relative proxy loss %.6f over %d layer groups%n",
        info.layers().stream().mapToDouble(LayerReport::relativeProxyLoss).average().orElse(0),
        info.layers().size());
    if (e2e) {
      out.flush();
      ConsoleProgress progress = new ConsoleProgress(out, err);
      EndToEndTuner.Report r = progress.during(
          () -> EndToEndTuner.tune(outDir, model, cal, ctx, outDir, e2eOpt, progress));
      out.printf(Locale.ROOT, "end-to-end fine-tuning: %s in %.1f s; wrote %s%n",
          EndToEndTuner.describe(r), r.seconds(), outDir);
    }
    return 0;
  }
}
