package io.github.quipsharp.finetune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.internal.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * The learning rates of a stage chosen on the validation windows (QUIPSHARP.md §6.5: on small
 * models the learning rate matters more than the stage, and must never be chosen on evaluation
 * text). Each point of a grid of {@link #MULTIPLIERS} times the given values (paper F.6: 5e-5,
 * SU/SV 5e-4), over both rates where both are "auto", trains from the same starting parameters
 * for {@link #EPOCHS} epochs on a slice of the training windows (every {@link #SLICE_EVERY}th) and
 * is scored by its best validation loss after an epoch; the lowest wins (the smaller rates on a
 * tie). A point whose loss turns NaN or infinite is recorded as diverged. The parameters are
 * restored afterwards. Each finished point is saved to a file, so that an interrupted sweep
 * continues with the next point and ends as an uninterrupted one.
 */
final class LearningRateSweep {
  static final double[] MULTIPLIERS = {1, 3, 10, 30};
  static final int SLICE_EVERY = 4;
  static final int EPOCHS = 2;
  private static final ObjectMapper JSON = new ObjectMapper();

  private LearningRateSweep() {}

  /** One point: its learning rates and best validation loss (NaN when it diverged). */
  record Point(double lr, double signLr, double validLoss, double seconds) {
    boolean diverged() {
      return !Double.isFinite(validLoss);
    }

    ObjectNode toJson() {
      ObjectNode o = JSON.createObjectNode();
      o.put("lr", lr);
      o.put("sign_lr", signLr);
      if (diverged()) {
        o.put("diverged", true);
      } else {
        o.put("valid_loss", validLoss);
      }
      o.put("seconds", seconds);
      return o;
    }

    static Point fromJson(JsonNode o) {
      return new Point(o.path("lr").asDouble(), o.path("sign_lr").asDouble(),
          o.path("diverged").asBoolean(false) ? Double.NaN : o.path("valid_loss").asDouble(),
          o.path("seconds").asDouble());
    }
  }

  /** The sweep's points in grid order and the chosen one. */
  record Result(List<Point> points, Point chosen, int sliceWindows, boolean budgetCut) {
    double seconds() {
      return points.stream().mapToDouble(Point::seconds).sum();
    }

    ObjectNode toJson() {
      ObjectNode o = JSON.createObjectNode();
      ArrayNode m = o.putArray("multipliers");
      for (double x : MULTIPLIERS) {
        m.add(x);
      }
      o.put("epochs", EPOCHS);
      o.put("slice_windows", sliceWindows);
      ArrayNode ps = o.putArray("points");
      points.forEach(p -> ps.add(p.toJson()));
      o.put("chosen_lr", chosen.lr());
      o.put("chosen_sign_lr", chosen.signLr());
      if (budgetCut) {
        o.put("cut_by_budget", true);
      }
      return o;
    }
  }

  /** The grid: the product of each rate's values (its multiples when auto, else itself). */
  static List<double[]> grid(FineTuneOptions opt) {
    List<double[]> out = new ArrayList<>();
    for (double a : opt.autoLr() ? MULTIPLIERS : new double[] {1}) {
      for (double b : opt.autoSignLr() ? MULTIPLIERS : new double[] {1}) {
        out.add(new double[] {opt.lr() * a, opt.signLr() * b});
      }
    }
    return out;
  }

  /** Every {@link #SLICE_EVERY}th training window (at least one). */
  static int[] slice(int[] train) {
    return IntStream.range(0, train.length).filter(i -> i % SLICE_EVERY == 0).map(i -> train[i])
        .toArray();
  }

  /**
   * Runs the points not yet in {@code stateFile} (null: nothing is saved) and chooses.
   *
   * @param spentBefore seconds already spent on the stage, counted against the budget
   * @param runMissing false to choose among the saved points only (training went on after them)
   * @throws FineTuneException if every point diverged
   */
  static Result run(String stage, List<TorchLlama.Param> params, FineTuneOptions opt, long seedMix,
      int[] train, int[] valid, Trainer.Objective obj, ProgressListener listener, Path stateFile,
      double spentBefore, boolean runMissing) {
    List<Point> done = load(stateFile);
    int[] slice = slice(train);
    Tensor[] start = Trainer.snapshot(params);
    Trainer.Budget budget = new Trainer.Budget(opt.budgetSeconds(),
        spentBefore + done.stream().mapToDouble(Point::seconds).sum());
    List<Point> points = new ArrayList<>();
    boolean cut = false;
    List<double[]> grid = grid(opt);
    for (int i = 0; i < grid.size(); i++) {
      double[] rates = grid.get(i);
      Point saved = find(done, rates);
      if (saved != null) {
        points.add(saved);
        continue;
      }
      if (!runMissing || budget.exceeded()) {
        cut = true;
        break;
      }
      long t0 = System.nanoTime();
      String name = String.format(Locale.ROOT, "%s lr sweep %d/%d", stage, i + 1, grid.size());
      double best = Double.POSITIVE_INFINITY;
      // The point's optimiser (its moments are as large as the parameters) goes with this scope.
      try (PointerScope scope = new PointerScope()) {
        Trainer t = new Trainer(params, opt.settings(seedMix, rates[0], rates[1]).withEpochs(EPOCHS));
        for (int e = 1; e <= EPOCHS; e++) {
          t.trainEpoch(name, Trainer.shuffled(slice, opt.seed() ^ seedMix, e), obj, listener, e,
              Trainer.Budget.none());
          double v = t.validate(valid, obj);
          if (!Double.isFinite(v)) {
            best = Double.NaN;
            break;
          }
          best = Math.min(best, v);
        }
      } catch (FineTuneException diverged) {
        best = Double.NaN;
      }
      Trainer.restore(params, start);
      Point p = new Point(rates[0], rates[1], best, (System.nanoTime() - t0) / 1e9);
      points.add(p);
      listener.info(String.format(Locale.ROOT, "%s: lr %.3g, SU/SV %.3g: %s", name, p.lr(),
          p.signLr(), p.diverged() ? "diverged" : String.format(Locale.ROOT, "validation loss %.6f",
              p.validLoss())));
      save(stateFile, points);
    }
    Trainer.release(start);
    Point chosen = null;
    for (Point p : points) {
      if (!p.diverged() && (chosen == null || p.validLoss() < chosen.validLoss())) {
        chosen = p;
      }
    }
    if (chosen == null) {
      if (points.isEmpty()) { // the budget ran out before the first point: the grid's first
        double[] r = grid.get(0);
        chosen = new Point(r[0], r[1], Double.NaN, 0);
      } else {
        throw new FineTuneException(stage + ": every learning rate of the sweep diverged (from lr "
            + grid.get(0)[0] + ", SU/SV " + grid.get(0)[1] + ")",
            FineTuneException.Remedy.LOWER_BOTH_LEARNING_RATES, null);
      }
    }
    listener.info(String.format(Locale.ROOT, "%s: learning rates chosen by the sweep: lr %.3g, "
        + "SU/SV %.3g (validation loss %.6f after %d epochs on %d windows)%s", stage, chosen.lr(),
        chosen.signLr(), chosen.validLoss(), EPOCHS, slice.length,
        cut ? "; the budget cut the sweep short" : ""));
    return new Result(List.copyOf(points), chosen, slice.length, cut);
  }

  private static Point find(List<Point> done, double[] rates) {
    for (Point p : done) {
      if (p.lr() == rates[0] && p.signLr() == rates[1]) {
        return p;
      }
    }
    return null;
  }

  private static List<Point> load(Path file) {
    List<Point> out = new ArrayList<>();
    if (file == null || !Files.exists(file)) {
      return out;
    }
    try {
      for (JsonNode p : JSON.readTree(file.toFile()).path("points")) {
        out.add(Point.fromJson(p));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the saved sweep " + file + ": " + e.getMessage(), e);
    }
    return out;
  }

  private static void save(Path file, List<Point> points) {
    if (file == null) {
      return;
    }
    ObjectNode o = JSON.createObjectNode();
    ArrayNode a = o.putArray("points");
    points.forEach(p -> a.add(p.toJson()));
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save the sweep to " + file + ": " + e.getMessage(), e);
    }
  }

}
