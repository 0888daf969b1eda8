package io.github.quipsharp.finetune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.ResumeMismatchException;
import io.github.quipsharp.SettingDifference;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.OutputFolders;
import io.github.quipsharp.internal.SettingsDiff;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.WeightSpec;
import io.github.quipsharp.safetensors.HalfFloat;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * End-to-end fine-tuning of a quantized checkpoint (QUIPSHARP.md §6.3): every SU/SV, every RMSNorm
 * weight and the head (untied from the frozen embedding) are trained so that the quantized model's
 * next-token distribution matches the fp model's — cross-entropy against the soft targets
 * softmax(fp logits) at positions 0…ctx−2 — with a validation split and early stopping. The codes
 * never change.
 *
 * <p>Memory does not grow with the number of layers: the student decodes one block at a time and
 * trains by recomputation ({@link TorchLlama#lossAndGradients}); the teacher's hidden states are
 * computed once, block by block, into a memory-mapped file ({@link FpActivations#finalStates}) and
 * its logits come from them with its final norm and head. With auto learning rates a sweep
 * ({@link LearningRateSweep}) on the validation windows chooses them first; with auto epochs
 * training runs until early stopping or the budget.
 *
 * <p>After every sweep point and every epoch the state is saved under {@code out/.finetune/} (and
 * after every epoch the best state so far as a checkpoint in {@code out}), so an interrupted run
 * continues with {@code resume} and ends exactly as an uninterrupted one. The state is removed
 * when the run ends.
 */
public final class EndToEndTuner {
  static final String STATE = ".finetune";
  private static final ObjectMapper JSON = new ObjectMapper();

  private EndToEndTuner() {}

  /**
   * What a run did. {@code stopReason} is why training ended ("epochs_done", "early_stopping",
   * "budget", "max_epochs"); {@code lr} and {@code signLr} are the rates it trained with (chosen by
   * the sweep when they were auto; {@code sweep} is null otherwise).
   */
  public record Report(int epochs, int bestEpoch, double initialValidLoss, double bestValidLoss,
      List<TuningEpoch> history, double seconds, boolean stoppedEarly, boolean resumed,
      String stopReason, double lr, double signLr, List<SweepPoint> sweep) {
    /** The fields of the first version (no stop reason, rates or sweep). */
    public Report(int epochs, int bestEpoch, double initialValidLoss, double bestValidLoss,
        List<TuningEpoch> history, double seconds, boolean stoppedEarly, boolean resumed) {
      this(epochs, bestEpoch, initialValidLoss, bestValidLoss, history, seconds, stoppedEarly,
          resumed, stoppedEarly ? "early_stopping" : "epochs_done", Double.NaN, Double.NaN, null);
    }
  }

  /** One point of a learning-rate sweep: its rates and best validation loss (NaN: diverged). */
  public record SweepPoint(double lr, double signLr, double validLoss) {}

  /**
   * Tunes {@code checkpoint} against the fp model {@code fpModel} on {@code calibration} tokens
   * (windows of {@code ctx}) and writes the tuned checkpoint to {@code out} ({@code checkpoint}
   * itself for in-place tuning). Only {@code calibration} is read: the evaluation text is never
   * passed here, and the learning rates (when auto) are chosen on its validation windows.
   *
   * @throws FineTuneException if the checkpoint was not made from {@code fpModel}, or the loss
   *     became NaN (the message says which checkpoint was kept)
   * @throws io.github.quipsharp.OutputFolderException for an {@code out} that is a file or holds
   *     something else
   * @throws InterruptedFineTuningException for an {@code out} holding an interrupted fine-tuning
   *     that {@code opt} does not resume
   * @throws IllegalArgumentException for bad settings
   */
  public static Report tune(Path checkpoint, Path fpModel, int[] calibration, int ctx, Path out,
      FineTuneOptions opt, ProgressListener listener) {
    listener = listener == null ? ProgressListener.NONE : listener;
    Torch.load();
    long start = System.nanoTime();
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(checkpoint);
        ModelSource src = ModelSource.open(fpModel)) {
      checkSameModel(in, src);
      Torch.use(opt.device());
      Torch.applyThreads(in.config().dim());
      Path stateDir = out.resolve(STATE);
      boolean inPlace = Files.exists(out) && Files.isSameFile(out, checkpoint);
      prepareOutput(out, stateDir, inPlace, opt.resume());
      Windows w = Windows.of(calibration, ctx, Integer.MAX_VALUE, opt);
      ObjectNode settings = runJson(fpModel, calibration, ctx, opt);
      Path runFile = stateDir.resolve("run.json");
      Path saved = currentState(stateDir);
      if (Files.exists(runFile)) {
        // Compared as parsed JSON on both sides (number node types then agree).
        List<SettingDifference> differs = SettingsDiff.differences("",
            JSON.readTree(runFile.toFile()), JSON.readTree(JSON.writeValueAsString(settings)));
        if (!differs.isEmpty()) {
          throw new ResumeMismatchException(out.toString(), "cannot resume in " + out + ": the "
              + "interrupted fine-tuning used other settings: ", stateDir.toString(), differs);
        }
      }
      boolean resumed = Files.exists(runFile);
      if (!resumed) {
        writeJson(runFile, settings);
      }
      if (resumed) {
        listener.info("resuming end-to-end fine-tuning in " + out);
      }
      Report report;
      try (ActivationFile teacherStates = FpActivations.finalStates(src, w, stateDir, opt.batch(),
          listener)) {
        TorchLlama model = TorchLlama.fromCheckpoint(in, ScalarType.Float, true);
        model.decodedType = decodedType(opt);
        if (opt.keepDecoded()) { // decoded once for the whole run (the same values every step)
          for (TorchLlama.Block b : model.blocks) {
            b.decode(model.decodedType);
          }
        }
        List<TorchLlama.Param> params = model.endToEndParams();
        TeacherHead teacher = TeacherHead.of(src);
        Trainer.Objective loss = objective(model, teacher, teacherStates, w);
        LearningRateSweep.Result sweep = null;
        double lr = opt.lr();
        double signLr = opt.signLr();
        if (opt.sweeps()) {
          // Resumed after the sweep, it only reads the saved points back.
          sweep = LearningRateSweep.run("end-to-end", params, opt, 0xE2E, w.train(), w.valid(), loss,
              listener, stateDir.resolve("sweep.json"), 0, saved == null);
        }
        if (sweep != null) {
          lr = sweep.chosen().lr();
          signLr = sweep.chosen().signLr();
        }
        Trainer t = new Trainer(params, opt.settings(0xE2E, lr, signLr));
        if (saved != null) {
          t.load(saved);
          listener.info("continuing after epoch " + t.epochsDone() + " from " + saved);
        } else if (sweep != null) {
          t.addPriorSeconds(sweep.seconds());
        }
        LearningRateSweep.Result sweepDone = sweep;
        try {
          t.run("end-to-end", w.train(), w.valid(), loss, listener, tr -> {
            Path dir = stateDir.resolve("epoch-" + tr.epochsDone());
            AtomicFiles.deleteTree(dir);
            tr.save(dir);
            writeJson(stateDir.resolve("current.json"), JSON.createObjectNode().put("dir", dir.getFileName().toString()));
            try (PointerScope scope = new PointerScope()) {
              // The best state so far is what a user should get if the run stops now.
              tr.withBest(() -> CoreInternals.writeTuned(in, out, values(params, model),
                  finetuneJson(settings, tr, sweepDone, false)));
            }
            cleanOldStates(stateDir, dir);
          });
        } catch (FineTuneException e) {
          teacherStates.close();
          AtomicFiles.deleteTree(stateDir);
          boolean kept = t.epochsDone() > 0 || inPlace;
          throw new FineTuneException(e.detail() + ". " + (kept ? out + " keeps the last good "
              + "checkpoint" + (t.epochsDone() > 0 ? " (best of the epochs before)" : " (untuned)")
              : "No epoch finished; " + checkpoint + " is unchanged and nothing was written to " + out),
              FineTuneException.Remedy.LOWER_LEARNING_RATE, e);
        }
        List<SweepPoint> points = sweep == null ? null : sweep.points().stream()
            .map(p -> new SweepPoint(p.lr(), p.signLr(), p.validLoss())).toList();
        report = new Report(t.epochsDone(), t.bestEpoch(), t.history().get(0).valid(),
            t.bestValid(), t.history(), (System.nanoTime() - start) / 1e9, t.stoppedEarly(), resumed,
            t.stopReason().key, lr, signLr, points);
        try (PointerScope scope = new PointerScope()) {
          CoreInternals.writeTuned(in, out, values(params, model),
              finetuneJson(settings, t, sweep, true));
        }
        for (TorchLlama.Block b : model.blocks) {
          b.release(); // kept-decoded blocks go now, not at a garbage collection
        }
      }
      AtomicFiles.deleteTree(stateDir);
      return report;
    } catch (IOException e) {
      throw new UncheckedIOException("fine-tuning into " + out + ": " + e.getMessage(), e);
    }
  }

  /** The checkpoint must come from this fp model: same shapes, and its embedding is the fp16 of it. */
  static void checkSameModel(QuantizedCheckpoint.Contents in, ModelSource src) {
    LlamaConfig a = in.config();
    LlamaConfig b = src.config();
    if (a.dim() != b.dim() || a.hiddenDim() != b.hiddenDim() || a.layers() != b.layers()
        || a.heads() != b.heads() || a.kvHeads() != b.kvHeads() || a.vocabSize() != b.vocabSize()
        || a.headDim() != b.headDim() || a.ropeInterleaved() != b.ropeInterleaved()
        || a.ropeTheta() != b.ropeTheta()) {
      throw new FineTuneException("the checkpoint " + in.dir() + " is not from the model "
          + src.path() + ": its shape differs (checkpoint dim " + a.dim() + ", " + a.layers()
          + " layers, vocab " + a.vocabSize() + "; model dim " + b.dim() + ", " + b.layers()
          + " layers, vocab " + b.vocabSize() + ")");
    }
    WeightSpec embed = WeightSpec.all(a).get(0);
    float[] ck = in.denseWeight(embed);
    float[] fp = src.tensor(embed.name()).toFloats();
    for (int i = 0; i < ck.length; i++) {
      if (ck[i] != HalfFloat.toFloat(HalfFloat.fromFloat(fp[i]))) {
        throw new FineTuneException("the checkpoint " + in.dir() + " was not quantized from "
            + src.path() + ": their token embeddings differ (element " + i + ")");
      }
    }
  }

  private static void prepareOutput(Path out, Path stateDir, boolean inPlace, boolean resume)
      throws IOException {
    OutputFolders.requireFolderOrAbsent(out);
    if (Files.exists(stateDir)) {
      if (!resume) {
        throw new InterruptedFineTuningException(out.toString());
      }
      return;
    }
    if (!inPlace) {
      OutputFolders.requireEmpty(out);
    }
    Files.createDirectories(stateDir);
  }

  private static Path currentState(Path stateDir) throws IOException {
    Path cur = stateDir.resolve("current.json");
    if (!Files.exists(cur)) {
      return null;
    }
    return stateDir.resolve(JSON.readTree(cur.toFile()).path("dir").asText());
  }

  private static void cleanOldStates(Path stateDir, Path keep) throws IOException {
    try (var dirs = Files.list(stateDir)) {
      for (Path d : dirs.filter(p -> p.getFileName().toString().startsWith("epoch-")
          && !p.equals(keep)).toList()) {
        AtomicFiles.deleteTree(d);
      }
    }
  }

  private static void writeJson(Path file, JsonNode node) throws IOException {
    AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(node));
  }

  private static ObjectNode runJson(Path fpModel, int[] calibration, int ctx, FineTuneOptions opt) {
    ObjectNode o = JSON.createObjectNode();
    o.put("stage", "end_to_end");
    o.put("fp_model", fpModel.toAbsolutePath().normalize().toString());
    o.put("ctx", ctx);
    o.put("calibration_tokens", calibration.length);
    o.put("calibration_hash", Integer.toHexString(java.util.Arrays.hashCode(calibration)));
    o.set("options", opt.toJson());
    return o;
  }

  private static ObjectNode finetuneJson(ObjectNode settings, Trainer t,
      LearningRateSweep.Result sweep, boolean finished) {
    ObjectNode o = settings.deepCopy();
    o.put("finished", finished);
    o.put("epochs_done", t.epochsDone());
    o.put("best_epoch", t.bestEpoch());
    o.put("best_valid_loss", t.bestValid());
    o.put("lr", t.settings().lr());
    o.put("sign_lr", t.settings().signLr());
    if (finished) {
      o.put("stop_reason", t.stopReason().key);
      o.put("stop", t.stopReason().describe(t.settings()));
    }
    if (sweep != null) {
      o.set("lr_sweep", sweep.toJson());
    }
    o.set("history", t.historyJson());
    return o;
  }

  /** The trained values by checkpoint tensor name, SU/SV with their padding entries. */
  static Map<String, float[]> values(List<TorchLlama.Param> params, TorchLlama model) {
    Map<String, float[]> out = new HashMap<>();
    for (TorchLlama.Block b : model.blocks) {
      String p = "model.layers." + b.layer + ".";
      for (TorchLinear g : b.groups) {
        out.put(p + g.group.checkpointName() + ".SU", g.suNow());
        out.put(p + g.group.checkpointName() + ".SV", g.svNow());
      }
    }
    for (TorchLlama.Param p : params) {
      if (!out.containsKey(p.name())) {
        out.put(p.name(), Torch.floats(p.tensor()));
      }
    }
    return out;
  }

  private static ScalarType decodedType(FineTuneOptions opt) {
    return opt.precision() == FineTuneOptions.Precision.BF16 ? ScalarType.BFloat16 : ScalarType.Float;
  }

  /**
   * The fp model's last step: its final norm and head (the embedding when tied) and the family's
   * final soft-cap, applied to the fp hidden states kept on disk to give the teacher's logits.
   */
  record TeacherHead(LlamaConfig config, Tensor norm, Tensor head) {
    static TeacherHead of(ModelSource src) {
      LlamaConfig c = src.config();
      return new TeacherHead(c, Torch.of(src.tensor("model.norm.weight"), ScalarType.Float),
          Torch.of(src.tensor(c.tiedEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight"),
              ScalarType.Float));
    }

    /** Fp32 logits [B, T, vocab] of the fp hidden states [B, T, dim]. */
    Tensor logits(Tensor states) {
      return TorchLlama.logits(config, states, norm, head);
    }
  }

  /**
   * §6.3's loss against the teacher's logits, the student decoding one block at a time (its
   * gradients by {@link TorchLlama#lossAndGradients}).
   */
  static Trainer.Objective objective(TorchLlama model, TeacherHead teacher, ActivationFile states,
      Windows w) {
    return new Trainer.Objective() {
      @Override
      public double loss(int[] idx) {
        try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
          return softCrossEntropy(model.forward(w.batch(idx)), teacher.logits(states.read(idx)))
              .item_double();
        }
      }

      @Override
      public double lossAndGradients(int[] idx) {
        try (PointerScope scope = new PointerScope()) {
          Tensor target;
          try (NoGradGuard ng = new NoGradGuard()) {
            target = teacher.logits(states.read(idx));
          }
          return model.lossAndGradients(w.batch(idx), logits -> softCrossEntropy(logits, target));
        }
      }
    };
  }

  /** Mean over windows and positions 0..T-2 of −Σ softmax(teacher) · log_softmax(student). */
  static Tensor softCrossEntropy(Tensor student, Tensor teacher) {
    long t = student.size(1) - 1;
    Tensor p = teacher.narrow(1, 0, t).softmax(-1);
    Tensor logq = torch.log_softmax(student.narrow(1, 0, t), -1);
    return p.mul(logq).sum(new long[] {-1}, false, new ScalarTypeOptional()).mean().neg();
  }

  /**
   * "12 epochs, validation loss 4.06 -> 2.90 (best epoch 9), stopped early (early_stopping),
   * lr 0.00015, SU/SV 0.0015 (chosen by the sweep)"
   */
  public static String describe(Report r) {
    return String.format(Locale.ROOT, "%d epochs, validation loss %.5f -> %.5f (best epoch %d)%s "
        + "(%s), lr %.3g, SU/SV %.3g%s", r.epochs(), r.initialValidLoss(), r.bestValidLoss(),
        r.bestEpoch(), r.stoppedEarly() ? ", stopped early" : ", stopped", r.stopReason(), r.lr(),
        r.signLr(), r.sweep() != null ? " (chosen by the sweep)" : "");
  }
}
