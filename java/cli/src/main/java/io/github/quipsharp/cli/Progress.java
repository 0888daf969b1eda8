package io.github.quipsharp.cli;

import java.io.PrintWriter;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Progress bars with ETA on the error stream (stdout stays parseable). */
final class Progress {
  private Progress() {}

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
}
