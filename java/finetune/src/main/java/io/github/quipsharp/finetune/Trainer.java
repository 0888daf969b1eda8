package io.github.quipsharp.finetune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.AtomicFiles;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * The optimisation loop shared by blockwise and end-to-end tuning (QUIPSHARP.md §6.2, §6.3): Adam
 * with two parameter groups (sign vectors at their own learning rate), epochs over a shuffled
 * training split (order fixed by the seed and the epoch), a validation loss before training and
 * after every epoch, early stopping after {@code patience} epochs without improvement, and the
 * best state restored at the end. Its whole state (parameters, best parameters, Adam moments,
 * history) can be saved after an epoch and loaded to continue exactly where it stopped.
 */
final class Trainer {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What one training run does. */
  record Settings(int epochs, int batch, double lr, double signLr, int patience, long seed) {
    Settings {
      if (epochs < 0) {
        throw new IllegalArgumentException("epochs = " + epochs + " must be >= 0");
      }
      if (batch < 1) {
        throw new IllegalArgumentException("batch = " + batch + " must be >= 1");
      }
      if (!(lr > 0) || !(signLr > 0) || Double.isInfinite(lr) || Double.isInfinite(signLr)) {
        throw new IllegalArgumentException("learning rates must be positive and finite (lr = " + lr
            + ", sign lr = " + signLr + ")");
      }
      if (patience < 1) {
        throw new IllegalArgumentException("patience = " + patience + " must be >= 1");
      }
    }

    ObjectNode toJson() {
      ObjectNode o = JSON.createObjectNode();
      o.put("epochs", epochs);
      o.put("batch", batch);
      o.put("lr", lr);
      o.put("sign_lr", signLr);
      o.put("patience", patience);
      o.put("seed", seed);
      return o;
    }
  }

  /** The mean loss over some windows (indices into the caller's data), attached to the graph. */
  interface Objective {
    Tensor loss(int[] windows);
  }

  /** Called after each epoch (e.g. to save a checkpoint and the state). */
  interface EpochHook {
    void epochEnded(Trainer t) throws IOException;
  }


  private final List<TorchLlama.Param> params;
  private final Settings settings;
  private final Adam adam;
  private Tensor[] best;
  private int epoch;
  private int bestEpoch;
  private double bestValid = Double.POSITIVE_INFINITY;
  private int bad;
  private final List<TuningEpoch> history = new ArrayList<>();

  Trainer(List<TorchLlama.Param> params, Settings settings) {
    this.params = List.copyOf(params);
    this.settings = settings;
    TensorVector signs = new TensorVector();
    TensorVector others = new TensorVector();
    for (TorchLlama.Param p : params) {
      p.tensor().set_requires_grad(true);
      (p.sign() ? signs : others).push_back(p.tensor());
    }
    if (others.size() > 0) {
      adam = new Adam(others, new AdamOptions(settings.lr()));
      if (signs.size() > 0) {
        adam.add_param_group(new OptimizerParamGroup(signs, new AdamOptions(settings.signLr())));
      }
    } else {
      adam = new Adam(signs, new AdamOptions(settings.signLr()));
    }
  }

  Settings settings() {
    return settings;
  }

  List<TuningEpoch> history() {
    return List.copyOf(history);
  }

  int epochsDone() {
    return epoch;
  }

  int bestEpoch() {
    return bestEpoch;
  }

  double bestValid() {
    return bestValid;
  }

  boolean stoppedEarly() {
    return bad >= settings.patience();
  }

  /**
   * Trains until the epochs are done or early stopping fires, then restores the best state.
   *
   * @throws FineTuneException when a loss is NaN or infinite (the parameters are then restored to
   *     the best state before that)
   */
  void run(String stage, int[] train, int[] valid, Objective obj, ProgressListener listener,
      EpochHook hook) throws IOException {
    if (train.length == 0 || valid.length == 0) {
      throw new IllegalArgumentException(stage + ": needs at least one training and one validation "
          + "window (have " + train.length + " and " + valid.length + ")");
    }
    if (history.isEmpty()) {
      double v0 = validate(valid, obj);
      checkFinite(stage, v0, "validation loss before training");
      bestValid = v0;
      best = snapshot();
      history.add(new TuningEpoch(0, Double.NaN, v0, 0));
      listener.tuningEpoch(stage, 0, settings.epochs(), Double.NaN, v0);
    }
    int steps = (train.length + settings.batch() - 1) / settings.batch();
    while (epoch < settings.epochs() && bad < settings.patience()) {
      long start = System.nanoTime();
      int[] order = shuffled(train, settings.seed(), epoch + 1);
      double sum = 0;
      for (int s = 0; s < steps; s++) {
        int from = s * settings.batch();
        int[] batch = java.util.Arrays.copyOfRange(order, from, Math.min(order.length, from + settings.batch()));
        double loss;
        try (PointerScope scope = new PointerScope()) {
          adam.zero_grad();
          Tensor l = obj.loss(batch);
          loss = l.item_double();
          if (!Double.isFinite(loss)) {
            restoreBest();
            throw new FineTuneException(String.format(Locale.ROOT, "%s: the training loss became %s "
                + "at epoch %d step %d (learning rate %.3g / signs %.3g too high?); the parameters "
                + "were reset to the best state (epoch %d, validation loss %.6g)", stage, loss,
                epoch + 1, s + 1, settings.lr(), settings.signLr(), bestEpoch, bestValid));
          }
          l.backward();
          adam.step();
        }
        sum += loss * batch.length;
        listener.tuningStep(stage, epoch + 1, s + 1, steps, loss);
      }
      epoch++;
      double v = validate(valid, obj);
      if (!Double.isFinite(v)) {
        restoreBest();
        throw new FineTuneException(String.format(Locale.ROOT, "%s: the validation loss became %s "
            + "after epoch %d (learning rate %.3g / signs %.3g too high?); the parameters were reset "
            + "to the best state (epoch %d)", stage, v, epoch, settings.lr(), settings.signLr(), bestEpoch));
      }
      if (v < bestValid) {
        bestValid = v;
        bestEpoch = epoch;
        best = snapshot();
        bad = 0;
      } else {
        bad++;
      }
      double train1 = sum / train.length;
      history.add(new TuningEpoch(epoch, train1, v, (System.nanoTime() - start) / 1e9));
      listener.tuningEpoch(stage, epoch, settings.epochs(), train1, v);
      if (hook != null) {
        hook.epochEnded(this);
      }
    }
    restoreBest();
  }

  private static void checkFinite(String stage, double v, String what) {
    if (!Double.isFinite(v)) {
      throw new FineTuneException(stage + ": the " + what + " is " + v);
    }
  }

  /** The training windows in the order of epoch {@code e} (a fixed function of seed and epoch). */
  static int[] shuffled(int[] train, long seed, int e) {
    int[] o = train.clone();
    SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + e);
    for (int i = o.length - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = o[i];
      o[i] = o[j];
      o[j] = t;
    }
    return o;
  }

  /** Mean loss over the validation windows, in batches, without gradients. */
  double validate(int[] valid, Objective obj) {
    double sum = 0;
    try (NoGradGuard ng = new NoGradGuard()) {
      for (int from = 0; from < valid.length; from += settings.batch()) {
        int[] b = java.util.Arrays.copyOfRange(valid, from, Math.min(valid.length, from + settings.batch()));
        try (PointerScope scope = new PointerScope()) {
          sum += obj.loss(b).item_double() * b.length;
        }
      }
    }
    return sum / valid.length;
  }

  private Tensor[] snapshot() {
    Tensor[] out = new Tensor[params.size()];
    try (NoGradGuard ng = new NoGradGuard()) {
      for (int i = 0; i < out.length; i++) {
        out[i] = params.get(i).tensor().detach().clone();
      }
    }
    return out;
  }

  /** Sets the parameters to the best state seen. */
  void restoreBest() {
    if (best == null) {
      return;
    }
    try (NoGradGuard ng = new NoGradGuard()) {
      for (int i = 0; i < best.length; i++) {
        params.get(i).tensor().copy_(best[i]);
      }
    }
  }

  /** An action that writes files. */
  interface IoAction {
    void run() throws IOException;
  }

  /** Runs {@code action} with the best parameters in place, then puts the current ones back. */
  void withBest(IoAction action) throws IOException {
    Tensor[] current = snapshot();
    restoreBest();
    try {
      action.run();
    } finally {
      try (NoGradGuard ng = new NoGradGuard()) {
        for (int i = 0; i < current.length; i++) {
          params.get(i).tensor().copy_(current[i]);
        }
      }
    }
  }

  // ---- saved state --------------------------------------------------------------------------

  /** Writes the whole state into the new folder {@code dir}. */
  void save(Path dir) throws IOException {
    Files.createDirectories(dir);
    writeTensors(dir.resolve("params.safetensors"), currentValues());
    writeTensors(dir.resolve("best.safetensors"), best);
    OutputArchive ar = new OutputArchive();
    adam.save(ar);
    ar.save_to(dir.resolve("adam.pt").toString());
    ObjectNode o = JSON.createObjectNode();
    o.put("epoch", epoch);
    o.put("best_epoch", bestEpoch);
    o.put("best_valid", bestValid);
    o.put("bad_epochs", bad);
    o.set("settings", settings.toJson());
    o.set("history", historyJson());
    AtomicFiles.write(dir.resolve("state.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o));
  }

  /** The epochs so far as a JSON array (epoch, train_loss except for epoch 0, valid_loss, seconds). */
  ArrayNode historyJson() {
    ArrayNode h = JSON.createArrayNode();
    for (TuningEpoch e : history) {
      ObjectNode x = h.addObject();
      x.put("epoch", e.epoch());
      if (Double.isFinite(e.train())) {
        x.put("train_loss", e.train());
      }
      x.put("valid_loss", e.valid());
      x.put("seconds", e.seconds());
    }
    return h;
  }

  /** Loads a state written by {@link #save} by a trainer with the same parameters and settings. */
  void load(Path dir) throws IOException {
    JsonNode o = JSON.readTree(dir.resolve("state.json").toFile());
    if (!o.path("settings").equals(JSON.readTree(JSON.writeValueAsString(settings.toJson())))) {
      throw new IllegalArgumentException("the saved fine-tuning state in " + dir + " used other "
          + "settings (" + o.path("settings") + ")");
    }
    readTensors(dir.resolve("params.safetensors"), currentValues());
    best = snapshot();
    readTensors(dir.resolve("best.safetensors"), best);
    InputArchive in = new InputArchive();
    in.load_from(dir.resolve("adam.pt").toString());
    adam.load(in);
    epoch = o.path("epoch").asInt();
    bestEpoch = o.path("best_epoch").asInt();
    bestValid = o.path("best_valid").asDouble();
    bad = o.path("bad_epochs").asInt();
    history.clear();
    for (JsonNode x : o.path("history")) {
      history.add(new TuningEpoch(x.path("epoch").asInt(), x.path("train_loss").asDouble(Double.NaN),
          x.path("valid_loss").asDouble(), x.path("seconds").asDouble()));
    }
  }

  private Tensor[] currentValues() {
    Tensor[] t = new Tensor[params.size()];
    for (int i = 0; i < t.length; i++) {
      t[i] = params.get(i).tensor();
    }
    return t;
  }

  private void writeTensors(Path file, Tensor[] values) throws IOException {
    try (SafetensorsWriter w = SafetensorsWriter.create(file)) {
      for (int i = 0; i < values.length; i++) {
        Tensor t = values[i];
        long[] shape = shapeOf(t);
        double[] v = Torch.doubles(t);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(v.length * 8)
            .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(v);
        w.add(params.get(i).name(), DType.F64, shape, b);
      }
      w.commit();
    }
  }

  private void readTensors(Path file, Tensor[] into) {
    try (SafetensorsFile f = SafetensorsFile.open(file); NoGradGuard ng = new NoGradGuard()) {
      for (int i = 0; i < into.length; i++) {
        String name = params.get(i).name();
        long[] shape = shapeOf(into[i]);
        double[] v = new double[Math.toIntExact(into[i].numel())];
        f.requireShape(name, DType.F64, shape);
        f.map(name).order(java.nio.ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(v);
        try (PointerScope scope = new PointerScope()) {
          into[i].copy_(Torch.ofDoubles(v, shape));
        }
      }
    }
  }

  private static long[] shapeOf(Tensor t) {
    long[] shape = new long[(int) t.dim()];
    for (int d = 0; d < shape.length; d++) {
      shape[d] = t.size(d);
    }
    return shape;
  }
}
