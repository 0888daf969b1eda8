package io.github.quipsharp.cli;

import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.cli.options.CalibrationFractionOption;
import io.github.quipsharp.cli.options.ContextLengthOption;
import io.github.quipsharp.cli.options.FlagChecks;
import io.github.quipsharp.cli.options.TokenizerOption;
import io.github.quipsharp.cli.options.WindowOption;
import io.github.quipsharp.finetune.EndToEndTuner;
import io.github.quipsharp.finetune.FineTuneOptions;
import io.github.quipsharp.finetune.FineTuning;
import io.github.quipsharp.internal.HuggingFaceConfig;
import io.github.quipsharp.internal.JsonFiles;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** finetune: end-to-end fine-tuning of an existing quantized checkpoint. */
@Command(
    name = "finetune",
    mixinStandardHelpOptions = true,
    description = {
      "Fine-tunes a quantized checkpoint end to end over libtorch (QuIP# §6.3): the sign vectors,",
      "the norms and the head (untied from the embedding) learn to match the fp model's next-token",
      "distribution on calibration text; the codes stay exactly as they are. After every epoch",
      "the best state so far is written to --out and the training state under --out/.finetune,",
      "so an interrupted run continues with --resume. --out may be the checkpoint itself."
    })
final class FinetuneCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--checkpoint", required = true,
      description = "The quantized checkpoint folder (from quantize).")
  Path checkpoint;

  @Option(names = "--model",
      description = "The fp model it was quantized from (default: the one its config.json names).")
  Path model;

  @Option(names = "--calibration", required = true,
      description = "UTF-8 text file; its first --calibration-fraction of tokens are trained and "
          + "validated on.")
  Path calibration;

  @Option(names = "--out", required = true,
      description = "Output folder: new or empty, the checkpoint's own folder (in place), or an "
          + "interrupted run's folder with --resume.")
  Path out;

  @Option(names = "--tokenizer",
      description = "Tokenizer file (default: the checkpoint's, else the model's).")
  Path tokenizer;

  @CommandLine.Mixin WindowOption window;

  @CommandLine.Mixin CalibrationFractionOption fraction;

  @Option(names = "--seed", defaultValue = "0",
      description = "Seed of the window order (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--resume", description = "Continue an interrupted fine-tuning in --out.")
  boolean resume;

  @Option(names = "--threads",
      description = "libtorch threads (default: 1 for models narrower than 1024, else all).")
  Integer threads;

  @CommandLine.Mixin FineTuneFlags ft;

  @CommandLine.Mixin ContextLengthOption context;

  @Override
  public Integer call() {
    int ctx = window.value(2);
    fraction.value();
    FlagChecks.atLeast("--threads", threads, 1);
    ft.validate();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ModelSource.checkPath(checkpoint);
    if (!QuantizedCheckpoint.isCheckpoint(checkpoint)) {
      throw new IllegalArgumentException("--checkpoint " + checkpoint + " is not a quantized "
          + "checkpoint folder (no config.json with quip_params)");
    }
    Path configFile = checkpoint.resolve("config.json");
    LlamaConfig config = HuggingFaceConfig.read(JsonFiles.read(configFile), configFile);
    context.check(config, ctx, err);
    Path fp = model;
    if (fp == null) {
      String recorded = JsonFiles.read(checkpoint.resolve("config.json")).path("quipsharp")
          .path("source_model").asText("");
      if (recorded.isEmpty() || !Files.exists(Paths.get(recorded))) {
        throw new IllegalArgumentException("the checkpoint does not name an fp model that exists ("
            + (recorded.isEmpty() ? "none recorded" : recorded) + "); pass --model PATH");
      }
      fp = Paths.get(recorded);
    }
    Tokenizer tok = TokenizerOption.open(fp, tokenizer != null ? tokenizer : tokenizerOf(checkpoint));
    int[] all = TextInput.tokens(tok, calibration, "calibration file");
    int[] cal = fraction.calibrationPart(all);
    FineTuning.setThreads(threads);
    FineTuneOptions opt = ft.apply(FineTuneOptions.E2E_AUTO, seed, resume);
    out.printf(Locale.ROOT, "fine-tune %s against %s on %d tokens of %s (%s)%n", checkpoint, fp,
        cal.length, calibration, FineTuneFlags.describeRates(opt));
    out.flush();
    Path fpModel = fp;
    ConsoleProgress progress = new ConsoleProgress(out, err);
    EndToEndTuner.Report r = progress.during(
        () -> EndToEndTuner.tune(checkpoint, fpModel, cal, ctx, this.out, opt, progress));
    out.printf(Locale.ROOT, "end-to-end fine-tuning: %s in %.1f s; wrote %s%n",
        EndToEndTuner.describe(r), r.seconds(), this.out);
    return 0;
  }

  private static Path tokenizerOf(Path checkpoint) {
    try {
      return Tokenizer.locate(checkpoint);
    } catch (RuntimeException e) {
      return null;
    }
  }
}
