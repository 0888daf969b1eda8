package io.github.quipsharp.cli;

import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.LayerReport;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizationInfo;
import io.github.quipsharp.Rounding;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.finetune.BlockwiseTuner;
import io.github.quipsharp.finetune.EndToEndTuner;
import io.github.quipsharp.finetune.FineTuneOptions;
import io.github.quipsharp.finetune.FineTuning;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
  enum RoundingChoice {
    ldlq,
    nearest
  }

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

  @Option(names = "--model", required = true,
      description = "Model: a Hugging Face folder (config.json + safetensors) or a llama2.c .bin.")
  Path model;

  @Option(names = "--bits", required = true, description = "Bits per weight: 2, 3 or 4.")
  int bits;

  @Option(names = "--calibration", required = true,
      description = "UTF-8 text file; its first --calibration-fraction of tokens give the Hessians.")
  Path calibration;

  @Option(names = "--out", required = true,
      description = "Output folder (new or empty; or an interrupted run's folder with --resume).")
  Path out;

  @Option(names = "--tokenizer",
      description = "Tokenizer file (tokenizer.json or llama2.c .bin; default: the model's own).")
  Path tokenizer;

  @Option(names = "--samples", defaultValue = "0",
      description = "Calibration windows to use (default: all that fit, ${DEFAULT-VALUE} = all).")
  int samples;

  @Option(names = "--ctx", defaultValue = "256",
      description = "Tokens per calibration window (default: ${DEFAULT-VALUE}).")
  int ctx;

  @Option(names = "--calibration-fraction", defaultValue = "0.75",
      description = "Fraction of the text's tokens used for calibration; `ppl --heldout` evaluates "
          + "the rest (default: ${DEFAULT-VALUE}).")
  double fraction;

  @Option(names = "--seed", defaultValue = "0",
      description = "Seed of the sign vectors (each layer group derives its own; default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--resume", description = "Continue an interrupted run in --out.")
  boolean resume;

  @Option(names = "--threads", description = "Native threads (default: all hardware threads).")
  Integer threads;

  @Option(names = "--rounding", defaultValue = "ldlq",
      description = "ldlq (BlockLDLQ, QuIP#) or nearest (default: ${DEFAULT-VALUE}).")
  RoundingChoice rounding;

  @Option(names = "--no-rht", description = "Skip the randomized Hadamard transform (ablation).")
  boolean noRht;

  @Option(names = "--refine-passes", defaultValue = "" + QuantConfig.DEFAULT_REFINE_PASSES,
      description = "BlockLDLQ refinement passes (default: ${DEFAULT-VALUE}).")
  int refinePasses;

  @CommandLine.Mixin ContextFlag context;

  @Override
  public Integer call() {
    Flags.oneOf("--bits", bits, 2, 3, 4);
    Flags.atLeast("--samples", samples, 0);
    Flags.atLeast("--ctx", ctx, 2);
    Flags.between("--calibration-fraction", fraction, 0, 1, false);
    Flags.atLeast("--refine-passes", refinePasses, 0);
    Flags.atLeast("--threads", threads, 1);
    ft.validate();
    BenchCommand.threads(threads);
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    QuantConfig cfg = QuantConfig.builder()
        .bits(bits)
        .seed(seed)
        .rounding(rounding == RoundingChoice.nearest ? Rounding.NEAREST : Rounding.BLOCK_LDLQ)
        .refinePasses(rounding == RoundingChoice.nearest ? 0 : refinePasses)
        .incoherence(!noRht)
        .build();
    Tokenizer tok = TextInput.tokenizer(model, tokenizer);
    int[] all = TextInput.tokens(tok, calibration, "calibration file");
    int[] cal = CalibrationSplit.calibration(all, fraction);
    // Printed when the run has passed its checks (the first progress report), so that a refused
    // run prints nothing on stdout.
    String header = String.format(Locale.ROOT, "quantize %s to %d bits (%s%s), calibration %s: %d "
        + "of %d tokens%n", model, bits, rounding, noRht ? ", no RHT" : "", calibration, cal.length,
        all.length);
    long start = System.nanoTime();
    boolean block = finetune == FinetuneMode.block || finetune == FinetuneMode.both;
    boolean e2e = finetune == FinetuneMode.e2e || finetune == FinetuneMode.both;
    FineTuning.setThreads(threads);
    ModelQuantizer.Options opt = ModelQuantizer.Options.builder().ctx(ctx).samples(samples)
        .resume(resume).allowLongerContext(context.allowLongerContext).build();
    // Both stages' settings are checked before anything runs.
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
    if (e2e && resume && QuantizedCheckpoint.isCheckpoint(this.out)
        && !Files.exists(this.out.resolve(".partial"))) {
      info = QuantizedCheckpoint.readInfo(this.out);
      out.print(header);
      out.println("quantization finished before; resuming its fine-tuning");
    } else {
      CliProgress progress = new CliProgress(out, err, header);
      try {
        info = ModelQuantizer.quantize(model, cal, cfg, this.out, opt.withListener(progress));
      } catch (RuntimeException e) {
        progress.stop();
        throw progress.started() && Files.isDirectory(this.out.resolve(ModelQuantizer.PARTIAL))
            ? new IllegalStateException(Main.oneLine(e.getMessage()) + "; the finished layer "
                + "groups are kept in " + this.out.resolve(ModelQuantizer.PARTIAL) + ": the same "
                + "command with --resume continues the run, deleting " + this.out
                + " starts over", e)
            : e;
      }
      out.printf(Locale.ROOT, "wrote %s in %.1f s%s%n", this.out, (System.nanoTime() - start) / 1e9,
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
      EndToEndTuner.Report r = tuneEndToEnd(this.out, model, cal, ctx, this.out, e2eOpt, out, err);
      out.printf(Locale.ROOT, "end-to-end fine-tuning: %s in %.1f s; wrote %s%n",
          EndToEndTuner.describe(r), r.seconds(), this.out);
    }
    return 0;
  }

  /** {@link EndToEndTuner#tune} with the CLI's progress, whose bars end if it fails. */
  static EndToEndTuner.Report tuneEndToEnd(Path checkpoint, Path model, int[] cal, int ctx,
      Path outDir, FineTuneOptions opt, PrintWriter out, PrintWriter err) {
    CliProgress progress = new CliProgress(out, err);
    try {
      return EndToEndTuner.tune(checkpoint, model, cal, ctx, outDir, opt, progress);
    } catch (RuntimeException e) {
      progress.stop();
      throw e;
    }
  }

  /** Runs the quantizer with progress bars on err and one line per layer group on out. */
  static QuantizationInfo run(Path model, int[] cal, QuantConfig cfg, Path outDir,
      ModelQuantizer.Options opt, PrintWriter out, PrintWriter err) {
    CliProgress progress = new CliProgress(out, err);
    try {
      return ModelQuantizer.quantize(model, cal, cfg, outDir, opt.withListener(progress));
    } catch (RuntimeException e) {
      progress.stop();
      throw e;
    }
  }

  /**
   * Progress of quantization and fine-tuning: bars on err, result lines on out (after a header line,
   * if one is given, at the first report).
   */
  static final class CliProgress implements ProgressListener {
    private final PrintWriter out;
    private final PrintWriter err;
    private String header;
    private boolean started;
    private ProgressBar hessians;
    private ProgressBar layers;
    private ProgressBar tuning;
    private String tuningKey;
    private long groupStart = System.nanoTime();
    private long epochStart = System.nanoTime();

    CliProgress(PrintWriter out, PrintWriter err) {
      this(out, err, null);
    }

    CliProgress(PrintWriter out, PrintWriter err, String header) {
      this.out = out;
      this.err = err;
      this.header = header;
    }

    /** Ends the bars that are open, so that an error line starts on a line of its own. */
    void stop() {
      boolean open = false;
      for (ProgressBar b : new ProgressBar[] {hessians, layers, tuning}) {
        if (b != null) {
          b.close();
          open = true;
        }
      }
      hessians = null;
      layers = null;
      tuning = null;
      if (open) {
        err.println();
        err.flush();
      }
    }

    /** Whether the run reported anything yet (it had passed its checks). */
    boolean started() {
      return started;
    }

    private void start() {
      started = true;
      if (header != null) {
        out.print(header);
        out.flush();
        header = null;
      }
    }

    @Override
    public void hessianProgress(int done, int total) {
      start();
      if (hessians == null) {
        hessians = Progress.bar(err, "Hessians", total, "windows");
      }
      hessians.stepTo(done);
      if (done == total) {
        Progress.close(hessians, err);
        hessians = null;
      }
    }

    @Override
    public void layerStarted(int layer, LinearGroup group, int index, int total) {
      start();
      groupStart = System.nanoTime();
      bar(index, total).setExtraMessage("layer " + layer + " " + group.key());
    }

    @Override
    public void layerFinished(LayerReport r, int index, int total, boolean resumed) {
      start();
      ProgressBar b = bar(index, total);
      b.stepTo(index + 1);
      clearLine();
      out.printf(Locale.ROOT, "  %-12s %-34s relative proxy loss %.6f  %s%n", r.name(),
          r.shape().describe(), r.relativeProxyLoss(), resumed ? "(saved before, resumed)"
              : String.format(Locale.ROOT, "%.2f s", (System.nanoTime() - groupStart) / 1e9));
      out.flush();
      if (index + 1 == total) {
        Progress.close(b, err);
        layers = null;
      }
    }

    private ProgressBar bar(int index, int total) {
      if (layers == null) {
        layers = Progress.bar(err, "Quantizing", total, "groups");
        layers.stepTo(index);
      }
      return layers;
    }

    private void clearLine() {
      err.print("\r" + " ".repeat(110) + "\r"); // clear the bar's line for the result line
      err.flush();
    }

    @Override
    public void tuningStep(String stage, int epoch, int step, int steps, double loss) {
      start();
      String key = stage + " " + epoch;
      if (layers != null) { // one bar at a time on the line: the quantizing bar resumes later
        layers.close();
        layers = null;
        clearLine();
      }
      if (tuning == null || !key.equals(tuningKey)) {
        if (tuning != null) {
          tuning.close();
        }
        tuning = Progress.bar(err, "Tuning " + stage + " epoch " + epoch, steps, "steps");
        tuningKey = key;
      }
      tuning.stepTo(step);
      tuning.setExtraMessage(String.format(Locale.ROOT, "loss %.5f", loss));
    }

    @Override
    public void tuningEpoch(String stage, int epoch, int epochs, double train, double valid) {
      start();
      if (tuning != null) {
        tuning.close();
        tuning = null;
      }
      clearLine();
      if (epoch == 0) {
        out.printf(Locale.ROOT, "  tune %-22s before training        validation loss %.6f%n",
            stage, valid);
      } else {
        out.printf(Locale.ROOT, "  tune %-22s epoch %d/%d train loss %.6f validation loss %.6f  "
            + "%.1f s%n", stage, epoch, epochs, train, valid, (System.nanoTime() - epochStart) / 1e9);
      }
      epochStart = System.nanoTime();
      out.flush();
    }

    @Override
    public void info(String message) {
      start();
      clearLine();
      err.println(message);
      err.flush();
    }

    @Override
    public void windowsPastContext(int ctx, int contextLength) {
      info("warning: --ctx " + ctx + " exceeds the model's context length " + contextLength
          + " (max_position_embeddings): the Hessians come from positions it was never trained for");
    }
  }
}
