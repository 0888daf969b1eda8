package io.github.quipsharp.cli;

import io.github.quipsharp.LayerReport;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.ProgressListener;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.Supplier;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The command line's progress: bars with ETA on the error stream (stdout stays parseable) and,
 * for quantization and fine-tuning, one result line per layer group or epoch on the output stream
 * (after a header line, if one is given, at the first report: a run refused by its checks prints
 * nothing on stdout).
 *
 * <p>Spark's driver reports differently on purpose ({@code ProgressLog} in java/spark): its output
 * goes to cluster logs, where a bar redrawn with carriage returns is noise, and it reports Spark's
 * task events (a failed attempt that Spark retries), which no {@link ProgressListener} sees.
 */
final class ConsoleProgress implements ProgressListener {
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

  ConsoleProgress(PrintWriter out, PrintWriter err) {
    this(out, err, null);
  }

  ConsoleProgress(PrintWriter out, PrintWriter err, String header) {
    this.out = out;
    this.err = err;
    this.header = header;
  }

  /** A bar of {@code total} steps on {@code err}, with the elapsed time, the ETA and the speed. */
  static ProgressBar bar(PrintWriter err, String task, long total, String unit) {
    return new ProgressBarBuilder()
        .setTaskName(task)
        .setInitialMax(total)
        .setStyle(ProgressBarStyle.ASCII)
        .setUnit(" " + unit, 1)
        .setUpdateIntervalMillis(500)
        .showSpeed()
        .setConsumer(new DelegatingProgressBarConsumer(line -> {
          err.print("\r" + line);
          err.flush();
        }, 100))
        .build();
  }

  /** Ends a bar's line. */
  static void close(ProgressBar bar, PrintWriter err) {
    bar.close();
    err.println();
    err.flush();
  }

  /**
   * Runs {@code work} (which reports to this listener); if it fails, the open bars end first, so
   * that the error line starts on a line of its own.
   */
  <T> T during(Supplier<T> work) {
    try {
      return work.get();
    } catch (RuntimeException e) {
      stop();
      throw e;
    }
  }

  /** Ends the bars that are open. */
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
      hessians = bar(err, "Hessians", total, "windows");
    }
    hessians.stepTo(done);
    if (done == total) {
      close(hessians, err);
      hessians = null;
    }
  }

  @Override
  public void layerStarted(int layer, LinearGroup group, int index, int total) {
    start();
    groupStart = System.nanoTime();
    layerBar(index, total).setExtraMessage("layer " + layer + " " + group.key());
  }

  @Override
  public void layerFinished(LayerReport r, int index, int total, boolean resumed) {
    start();
    ProgressBar b = layerBar(index, total);
    b.stepTo(index + 1);
    clearLine();
    out.printf(Locale.ROOT, "  %-12s %-34s relative proxy loss %.6f  %s%n", r.name(),
        r.shape().describe(), r.relativeProxyLoss(), resumed ? "(saved before, resumed)"
            : String.format(Locale.ROOT, "%.2f s", (System.nanoTime() - groupStart) / 1e9));
    out.flush();
    if (index + 1 == total) {
      close(b, err);
      layers = null;
    }
  }

  private ProgressBar layerBar(int index, int total) {
    if (layers == null) {
      layers = bar(err, "Quantizing", total, "groups");
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
      tuning = bar(err, "Tuning " + stage + " epoch " + epoch, steps, "steps");
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
