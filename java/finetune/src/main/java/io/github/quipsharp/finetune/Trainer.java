package io.github.quipsharp.finetune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.ResumeMismatchException;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.SettingsDiff;
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

  /**
   * What one training run does. {@code epochs} is a fixed count or {@link FineTuneOptions#AUTO_EPOCHS}
   * (until early stopping, at most {@link FineTuneOptions#MAX_AUTO_EPOCHS});
   * {@code budgetSeconds} bounds the wall time of the run (0 = none).
   */
  record Settings(int epochs, int batch, double lr, double signLr, int patience, long seed,
      double budgetSeconds) {
    Settings {
      if (epochs < 0 && epochs != FineTuneOptions.AUTO_EPOCHS) {
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
      if (!(budgetSeconds >= 0) || Double.isInfinite(budgetSeconds)) {
        throw new IllegalArgumentException("budget = " + budgetSeconds + " s must be >= 0 (0 = none)");
      }
    }

    boolean autoEpochs() {
      return epochs == FineTuneOptions.AUTO_EPOCHS;
    }

    /** The epoch count this run may reach. */
    int maxEpochs() {
      return autoEpochs() ? FineTuneOptions.MAX_AUTO_EPOCHS : epochs;
    }

    Settings withEpochs(int e) {
      return new Settings(e, batch, lr, signLr, patience, seed, budgetSeconds);
    }

    ObjectNode toJson() {
      ObjectNode o = JSON.createObjectNode();
      if (autoEpochs()) {
        o.put("epochs", "auto");
      } else {
        o.put("epochs", epochs);
      }
      o.put("batch", batch);
      o.put("lr", lr);
      o.put("sign_lr", signLr);
      o.put("patience", patience);
      o.put("seed", seed);
      if (budgetSeconds > 0) {
        o.put("budget_seconds", budgetSeconds);
      }
      return o;
    }
  }

  /** Why a run ended; its key is what the checkpoint records. */
  enum StopReason {
    /** The fixed number of epochs ran. */
    EPOCHS("epochs_done"),
    /** {@code patience} epochs without a better validation loss. */
    EARLY_STOPPING("early_stopping"),
    /** The wall-time budget ran out (an unfinished epoch is dropped; the best state is kept). */
    BUDGET("budget"),
    /** {@link FineTuneOptions#MAX_AUTO_EPOCHS} epochs ran without early stopping. */
    MAX_EPOCHS("max_epochs");

    final String key;

    StopReason(String key) {
      this.key = key;
    }

    String describe(Settings s) {
      return switch (this) {
        case EPOCHS -> "the " + s.epochs() + " epochs set ran";
        case EARLY_STOPPING -> "early stopping: " + s.patience() + " epochs without a better "
            + "validation loss";
        case BUDGET -> String.format(Locale.ROOT, "the wall-time budget of %.0f s ran out", s.budgetSeconds());
        case MAX_EPOCHS -> "the safety bound of " + s.maxEpochs() + " epochs";
      };
    }
  }

  /**
   * Under {@link FineTuneOptions#AUTO_EPOCHS} an epoch counts as an improvement for early stopping
   * only when it lowers the best validation loss by this fraction (an ever slower creep would
   * otherwise never stop); the best state is still taken from every lower loss.
   */
  static final double MIN_RELATIVE_IMPROVEMENT = 1e-3;

  /** The loss of some windows (indices into the caller's data). */
  interface Objective {
    /** The mean loss over the windows, without gradients. */
    double loss(int[] windows);

    /**
     * The mean loss over the windows, with its gradients accumulated into the parameters' grads;
     * when the loss is not finite no gradient is computed.
     */
    double lossAndGradients(int[] windows);

    /** An objective whose loss is one autograd graph over the whole computation. */
    static Objective ofGraph(java.util.function.Function<int[], Tensor> loss) {
      return new Objective() {
        @Override
        public double loss(int[] windows) {
          try (PointerScope scope = new PointerScope()) {
            return loss.apply(windows).item_double();
          }
        }

        @Override
        public double lossAndGradients(int[] windows) {
          try (PointerScope scope = new PointerScope()) {
            Tensor l = loss.apply(windows);
            double v = l.item_double();
            if (Double.isFinite(v)) {
              l.backward();
            }
            return v;
          }
        }
      };
    }
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
  /** Wall time spent on the stage before this trainer's run (a sweep, an interrupted run). */
  private double priorSeconds;
  private StopReason stopReason;

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
    return stopReason == StopReason.EARLY_STOPPING;
  }

  /** Why the last {@link #run} ended (null before it ended). */
  StopReason stopReason() {
    return stopReason;
  }

  /** Counts {@code seconds} already spent on the stage against the budget. */
  void addPriorSeconds(double seconds) {
    priorSeconds += seconds;
  }

  /** Wall time of the stage so far: prior time plus the epochs in the history. */
  double secondsSpent() {
    return priorSeconds + history.stream().mapToDouble(TuningEpoch::seconds).sum();
  }

  /**
   * Trains until the epochs are done, early stopping fires or the budget runs out, then restores
   * the best state.
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
    long runStart = System.nanoTime();
    if (history.isEmpty()) {
      double v0 = validate(valid, obj);
      checkFinite(stage, v0, "validation loss before training");
      bestValid = v0;
      keepAsBest();
      history.add(new TuningEpoch(0, Double.NaN, v0, (System.nanoTime() - runStart) / 1e9));
      listener.tuningEpoch(stage, 0, shownEpochs(), Double.NaN, v0);
    }
    stopReason = null;
    double spentBefore = secondsSpent();
    Budget budget = new Budget(settings.budgetSeconds(), spentBefore);
    while (stopReason == null) {
      if (bad >= settings.patience()) {
        stopReason = StopReason.EARLY_STOPPING;
      } else if (epoch >= settings.maxEpochs()) {
        stopReason = settings.autoEpochs() ? StopReason.MAX_EPOCHS : StopReason.EPOCHS;
      } else if (budget.exceeded()) {
        stopReason = StopReason.BUDGET;
      } else {
        long start = System.nanoTime();
        double train1 = trainEpoch(stage, shuffled(train, settings.seed(), epoch + 1), obj, listener,
            epoch + 1, budget);
        if (Double.isNaN(train1)) { // the budget ran out within the epoch: it is dropped
          stopReason = StopReason.BUDGET;
          break;
        }
        epoch++;
        double v = validate(valid, obj);
        if (!Double.isFinite(v)) {
          restoreBest();
          throw new FineTuneException(String.format(Locale.ROOT, "%s: the validation loss became %s "
              + "after epoch %d (learning rate %.3g / signs %.3g too high?); the parameters were reset "
              + "to the best state (epoch %d)", stage, v, epoch, settings.lr(), settings.signLr(), bestEpoch));
        }
        boolean significant = settings.autoEpochs()
            ? v < bestValid - MIN_RELATIVE_IMPROVEMENT * Math.abs(bestValid) : v < bestValid;
        if (v < bestValid) {
          bestValid = v;
          bestEpoch = epoch;
          keepAsBest();
        }
        bad = significant ? 0 : bad + 1;
        history.add(new TuningEpoch(epoch, train1, v, (System.nanoTime() - start) / 1e9));
        listener.tuningEpoch(stage, epoch, shownEpochs(), train1, v);
        if (hook != null) {
          hook.epochEnded(this);
        }
      }
    }
    restoreBest();
    listener.info(String.format(Locale.ROOT, "%s: stopped after %d epochs (%s); best epoch %d, "
        + "validation loss %.6f", stage, epoch, stopReason.describe(settings), bestEpoch, bestValid));
  }

  /** The epoch count shown in progress ("epoch 3/5"; under auto epochs the safety bound). */
  private int shownEpochs() {
    return settings.maxEpochs();
  }

  /** Wall time against a budget (0 = none), counting what was spent before. */
  static final class Budget {
    private final double limit;
    private final double before;
    private final long start = System.nanoTime();

    Budget(double limitSeconds, double spentBefore) {
      this.limit = limitSeconds;
      this.before = spentBefore;
    }

    static Budget none() {
      return new Budget(0, 0);
    }

    boolean exceeded() {
      return limit > 0 && before + (System.nanoTime() - start) / 1e9 >= limit;
    }
  }

  /**
   * One pass over {@code order} in batches with an Adam step each; the mean training loss, or NaN
   * when {@code budget} ran out before the pass ended (the steps taken stay applied).
   */
  double trainEpoch(String stage, int[] order, Objective obj, ProgressListener listener,
      int epochNumber, Budget budget) {
    int steps = (order.length + settings.batch() - 1) / settings.batch();
    double sum = 0;
    for (int s = 0; s < steps; s++) {
      if (budget.exceeded()) {
        return Double.NaN;
      }
      int from = s * settings.batch();
      int[] batch = java.util.Arrays.copyOfRange(order, from, Math.min(order.length, from + settings.batch()));
      double loss;
      try (PointerScope scope = new PointerScope()) {
        adam.zero_grad();
        loss = obj.lossAndGradients(batch);
        if (!Double.isFinite(loss)) {
          restoreBest();
          throw new FineTuneException(String.format(Locale.ROOT, "%s: the training loss became %s "
              + "at epoch %d step %d (learning rate %.3g / signs %.3g too high?); the parameters "
              + "were reset to the best state (epoch %d, validation loss %.6g)", stage, loss,
              epochNumber, s + 1, settings.lr(), settings.signLr(), bestEpoch, bestValid));
        }
        adam.step();
      }
      sum += loss * batch.length;
      listener.tuningStep(stage, epochNumber, s + 1, steps, loss);
    }
    return sum / order.length;
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
        sum += obj.loss(b) * b.length;
      }
    }
    return sum / valid.length;
  }

  private Tensor[] snapshot() {
    return snapshot(params);
  }

  /**
   * Copies of the parameters' values, owned by the caller (in no pointer scope: they live until
   * {@link #release}, however many steps pass).
   */
  static Tensor[] snapshot(List<TorchLlama.Param> params) {
    Tensor[] out = new Tensor[params.size()];
    try (NoGradGuard ng = new NoGradGuard(); PointerScope scope = new PointerScope()) {
      for (int i = 0; i < out.length; i++) {
        out[i] = params.get(i).tensor().detach().clone();
        out[i].retainReference();
      }
    }
    return out;
  }

  /** Frees a {@link #snapshot} now rather than at a garbage collection. */
  static void release(Tensor[] values) {
    if (values != null) {
      for (Tensor t : values) {
        t.releaseReference();
      }
    }
  }

  /** Sets the parameters to {@code values} (a {@link #snapshot}) and clears their gradients. */
  static void restore(List<TorchLlama.Param> params, Tensor[] values) {
    try (NoGradGuard ng = new NoGradGuard(); PointerScope scope = new PointerScope()) {
      for (int i = 0; i < values.length; i++) {
        params.get(i).tensor().copy_(values[i]);
        Tensor g = params.get(i).tensor().grad();
        if (g.defined()) {
          g.zero_();
        }
      }
    }
  }

  private void keepAsBest() {
    release(best);
    best = snapshot();
  }

  /** Sets the parameters to the best state seen. */
  void restoreBest() {
    if (best != null) {
      restore(params, best);
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
      restore(params, current);
      release(current);
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
    o.put("prior_seconds", priorSeconds);
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
    JsonNode now = JSON.readTree(JSON.writeValueAsString(settings.toJson()));
    if (!o.path("settings").equals(now)) {
      // Named as run.json's "options", so that a command line names each key by its flag.
      throw new ResumeMismatchException(dir.toString(), "the saved fine-tuning state in " + dir
          + " used other settings: ", dir.toString(),
          SettingsDiff.differences("options", o.path("settings"), now));
    }
    readTensors(dir.resolve("params.safetensors"), currentValues());
    keepAsBest();
    readTensors(dir.resolve("best.safetensors"), best);
    InputArchive in = new InputArchive();
    in.load_from(dir.resolve("adam.pt").toString());
    adam.load(in);
    epoch = o.path("epoch").asInt();
    bestEpoch = o.path("best_epoch").asInt();
    bestValid = o.path("best_valid").asDouble();
    bad = o.path("bad_epochs").asInt();
    priorSeconds = o.path("prior_seconds").asDouble();
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
          into[i].copy_(Torch.toScope(Torch.ofDoubles(v, shape)));
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
