package io.github.quipsharp.finetune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantizationTuner;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.BlockTuner;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.LayerState;
import io.github.quipsharp.model.ModelSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * Blockwise fine-tuning over libtorch (QUIPSHARP.md §6.2), plugged into
 * {@link io.github.quipsharp.ModelQuantizer} as its {@link QuantizationTuner} (the quantizer calls
 * the internal {@link BlockTuner} hook this tuner attaches): the inputs X of block l
 * are the fp model's hidden states on the calibration windows, the targets Y the fp block's
 * outputs; after qkv, o and up are quantized, the block (SU/SV of its quantized groups, weights of
 * the others, both norms) is trained on MSE(block(X), Y) with a validation split, early stopping
 * and the best state kept.
 *
 * <p>X and Y live on disk ({@link ActivationFile}, memory-mapped) and are read batch by batch;
 * only the block being tuned is in memory, its quantized groups decoded once per tuning. With
 * auto learning rates the first tuning of the run sweeps them ({@link LearningRateSweep}) and every
 * tuning uses the chosen ones; the sweep, and why each tuning stopped, are saved in the
 * quantizer's work folder and recorded in the checkpoint ({@code record}).
 */
public final class BlockwiseTuner extends QuantizationTuner {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SWEEP = "sweep.json";
  private static final String TUNINGS = "tunings";

  private final FineTuneOptions opt;
  private ModelSource src;
  private Windows windows;
  private Path workDir;
  private ActivationFile x; // inputs of block xLayer
  private ActivationFile y; // fp outputs of block xLayer, null until computed
  private int xLayer = -1;
  private LearningRateSweep.Result sweep;
  private double seconds;
  /** The records of the tunings run by this tuner (not those of a run it resumed). */
  private final List<JsonNode> tunings = new ArrayList<>();

  public BlockwiseTuner(FineTuneOptions opt) {
    this.opt = opt;
    Torch.load();
    CoreInternals.attachTuner(this, new Hook());
  }

  /** What the quantizer calls; kept private so that none of it is public API. */
  private final class Hook implements BlockTuner {
    @Override
    public JsonNode settings() {
      return opt.toJson();
    }

    @Override
    public void start(ModelSource src, int[] calibration, int ctx, int windows,
        ProgressListener listener) {
      BlockwiseTuner.this.start(src, calibration, ctx, windows, listener);
    }

    @Override
    public void start(ModelSource src, int[] calibration, int ctx, int windows,
        ProgressListener listener, Path workDir) {
      BlockwiseTuner.this.start(src, calibration, ctx, windows, listener, workDir);
    }

    @Override
    public void tune(LayerState state, LinearGroup justQuantized, ProgressListener listener) {
      BlockwiseTuner.this.tune(state, justQuantized, listener);
    }

    @Override
    public JsonNode record(Path workDir) {
      return BlockwiseTuner.this.record(workDir);
    }
  }

  /** Seconds spent tuning so far. */
  public double seconds() {
    return seconds;
  }

  private void start(ModelSource source, int[] calibration, int ctx, int available,
      ProgressListener listener) {
    Path tmp;
    try {
      tmp = Files.createTempDirectory("quipsharp-blockwise");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a folder for the activations: " + e.getMessage(), e);
    }
    tmp.toFile().deleteOnExit();
    start(source, calibration, ctx, available, listener, tmp);
  }

  private void start(ModelSource source, int[] calibration, int ctx, int available,
      ProgressListener listener, Path workDir) {
    this.src = source;
    this.workDir = workDir;
    Torch.use(opt.device());
    Torch.applyThreads(source.config().dim());
    this.windows = Windows.of(calibration, ctx, available, opt);
    listener.info("blockwise fine-tuning on " + windows.train().length + " windows, validating on "
        + windows.valid().length + " (activations on disk in " + workDir + ")");
  }

  private Path activationPath(String name) {
    Path p = workDir.resolve(name);
    p.toFile().deleteOnExit();
    return p;
  }

  /** Moves the activations forward through the fp blocks until they enter {@code layer}. */
  private void advanceTo(int layer) {
    int n = windows.tokens().length;
    int dim = src.config().dim();
    if (xLayer < 0) {
      x = ActivationFile.create(activationPath("activations-0.f32"), n, windows.ctx(), dim);
      FpActivations.embed(src, windows, x, opt.batch());
      xLayer = 0;
      y = null;
    }
    if (layer < xLayer) {
      throw new IllegalStateException("layer " + layer + " comes after layer " + xLayer);
    }
    while (xLayer < layer || y == null) {
      // Three files in turn: the inputs, the outputs, and the next outputs.
      String name = "activations-" + ((xLayer + 1) % 3) + ".f32";
      ActivationFile out = ActivationFile.create(activationPath(name), n, windows.ctx(), dim);
      FpActivations.advance(src, xLayer, x, out, opt.batch());
      if (xLayer < layer) {
        x.close();
        if (y != null) {
          y.close();
        }
        x = out;
        xLayer++;
        y = null; // the targets of the new layer are computed next
      } else {
        y = out;
      }
    }
  }

  private void tune(LayerState state, LinearGroup justQuantized, ProgressListener listener) {
    long start = System.nanoTime();
    advanceTo(state.layer());
    // Everything of this tuning (block copy, optimiser, snapshots) is freed when it ends.
    try (PointerScope scope = new PointerScope()) {
      tuneBlock(state, justQuantized, listener);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    seconds += (System.nanoTime() - start) / 1e9;
  }

  private void tuneBlock(LayerState state, LinearGroup justQuantized, ProgressListener listener)
      throws IOException {
    long start = System.nanoTime();
    TorchLlama.Block block = TorchLlama.Block.fromState(state, ScalarType.Float);
    TorchLlama.Rope rope = new TorchLlama.Rope(state.config(), ScalarType.Float);
    block.decode(opt.precision() == FineTuneOptions.Precision.BF16 ? ScalarType.BFloat16 : ScalarType.Float);
    long seedMix = state.layer() * 4L + justQuantized.ordinal();
    String stage = "layer " + state.layer() + " after " + justQuantized.key();
    Trainer.Objective mse = Trainer.Objective.ofGraph(idx ->
        torch.mse_loss(block.forward(x.read(idx), rope), y.read(idx)));
    List<JsonNode> done = records(workDir);
    double spent = done.stream().mapToDouble(r -> r.path("seconds").asDouble()).sum();
    double lr = opt.lr();
    double signLr = opt.signLr();
    Trainer t;
    // The decoded matrices go when the tuning ends, also when the sweep or the training is
    // interrupted (else DecodedMatrices would count them alive for the rest of the process).
    try {
      if (opt.sweeps()) {
        if (sweep == null) {
          sweep = LearningRateSweep.run("blockwise", block.params(), opt, seedMix, windows.train(),
              windows.valid(), mse, listener, workDir.resolve(SWEEP), spent, true);
        }
        lr = sweep.chosen().lr();
        signLr = sweep.chosen().signLr();
      }
      double sweepSeconds = sweep == null ? 0 : sweep.seconds();
      t = new Trainer(block.params(),
          new Trainer.Settings(opt.epochs(), opt.batch(), lr, signLr, opt.patience(),
              opt.seed() ^ seedMix, share(spent + sweepSeconds, state.config().layers(), done.size())));
      try {
        t.run(stage, windows.train(), windows.valid(), mse, listener, null);
      } catch (FineTuneException e) {
        throw new FineTuneException(e.detail(),
            FineTuneException.Remedy.LOWER_LEARNING_RATE_IN_A_NEW_RUN, e);
      }
    } finally {
      block.release();
    }
    block.writeBack(state);
    block.free();
    ObjectNode r = JSON.createObjectNode();
    r.put("layer", state.layer());
    r.put("after", justQuantized.key());
    r.put("epochs", t.epochsDone());
    r.put("best_epoch", t.bestEpoch());
    r.put("stop_reason", t.stopReason().key);
    r.put("initial_valid_loss", t.history().get(0).valid());
    r.put("best_valid_loss", t.bestValid());
    r.put("lr", lr);
    r.put("sign_lr", signLr);
    r.put("seconds", (System.nanoTime() - start) / 1e9);
    Path file = workDir.resolve(TUNINGS).resolve(state.layer() + "_" + justQuantized.key() + ".json");
    Files.createDirectories(file.getParent());
    AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(r));
    tunings.add(r);
  }

  /**
   * "15 tunings, lr 0.00015, SU/SV 0.0015 (chosen by the sweep), 4-17 epochs, stopped: 13
   * early_stopping, 2 budget" for the tunings this tuner ran; empty when it ran none.
   */
  public String summary() {
    if (tunings.isEmpty()) {
      return "";
    }
    java.util.Map<String, Integer> reasons = new java.util.TreeMap<>();
    int min = Integer.MAX_VALUE;
    int max = 0;
    for (JsonNode r : tunings) {
      reasons.merge(r.path("stop_reason").asText(), 1, Integer::sum);
      min = Math.min(min, r.path("epochs").asInt());
      max = Math.max(max, r.path("epochs").asInt());
    }
    StringBuilder why = new StringBuilder();
    reasons.forEach((k, v) -> why.append(why.length() > 0 ? ", " : "").append(v).append(' ').append(k));
    JsonNode last = tunings.get(tunings.size() - 1);
    return String.format(java.util.Locale.ROOT, "%d tunings, lr %.3g, SU/SV %.3g%s, %d-%d epochs, "
        + "stopped: %s", tunings.size(), last.path("lr").asDouble(), last.path("sign_lr").asDouble(),
        sweep != null ? " (chosen by the sweep)" : "", min, max, why);
  }

  /**
   * This tuning's share of the stage's wall-time budget: what is left, split evenly over the
   * tunings not done yet (3 per layer); 0 when there is no budget.
   */
  private double share(double spent, int layers, int tuningsDone) {
    if (opt.budgetSeconds() <= 0) {
      return 0;
    }
    int left = Math.max(1, 3 * layers - tuningsDone);
    return Math.max(1e-9, (opt.budgetSeconds() - spent) / left); // > 0: 0 would mean no limit
  }

  /** The saved records of the tunings of this run, by layer and group. */
  private static List<JsonNode> records(Path workDir) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    Path dir = workDir.resolve(TUNINGS);
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).toList()) {
        out.add(JSON.readTree(f.toFile()));
      }
    }
    out.sort(Comparator.comparingInt((JsonNode r) -> r.path("layer").asInt())
        .thenComparingInt(r -> LinearGroup.valueOf(r.path("after").asText().toUpperCase(java.util.Locale.ROOT)).ordinal()));
    return out;
  }

  /**
   * What the run did, for the checkpoint's config: the learning-rate sweep (when there was one)
   * and, per tuning, its epochs, why it stopped and its validation losses.
   */
  private JsonNode record(Path workDir) {
    try {
      ObjectNode o = JSON.createObjectNode();
      Path sweepFile = workDir.resolve(SWEEP);
      if (Files.exists(sweepFile)) {
        o.set("lr_sweep", JSON.readTree(sweepFile.toFile()));
      }
      ArrayNode a = o.putArray("tunings");
      records(workDir).forEach(a::add);
      return o;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the blockwise records in " + workDir + ": "
          + e.getMessage(), e);
    }
  }
}
