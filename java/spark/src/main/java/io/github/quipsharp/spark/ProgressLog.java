package io.github.quipsharp.spark;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.Success$;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * The driver's progress lines: one per finished layer of Phase A and one per finished task of
 * Phase B, each with the elapsed time and an ETA (the mean time so far times what is left; Phase B
 * runs the largest groups first, so its early ETAs run high). Failed attempts are reported too.
 * The Spark UI is untouched.
 */
final class ProgressLog extends SparkListener {
  /** The job group whose tasks get one line each. */
  static final String TASK_LINES = "quipsharp-task-lines";

  private final PrintWriter out;
  private final long start = System.nanoTime();
  private final Set<Integer> stages = ConcurrentHashMap.newKeySet();
  private volatile List<String> names = List.of();
  private volatile Phase tasks;
  private final Map<Integer, Boolean> reported = new ConcurrentHashMap<>();

  ProgressLog(PrintWriter out) {
    this.out = out;
  }

  synchronized void info(String line) {
    out.println(line);
    out.flush();
  }

  /** A phase of {@code total} steps that prints a line per finished step. */
  Phase phase(String name, int total) {
    return new Phase(name, total);
  }

  /** The next job of the {@link #TASK_LINES} group runs these tasks (by partition index). */
  void tasks(List<String> taskNames) {
    names = taskNames;
    reported.clear();
    tasks = new Phase("quantize", taskNames.size());
  }

  /** The task results, once the job is over: lines for tasks the listener did not report. */
  void tasksDone(List<String> results) {
    for (int i = 0; i < results.size(); i++) {
      if (reported.putIfAbsent(i, true) == null) {
        tasks.done(names.get(i) + ": " + results.get(i));
      }
    }
  }

  @Override
  public void onJobStart(SparkListenerJobStart job) {
    java.util.Properties p = job.properties();
    if (p != null && TASK_LINES.equals(p.getProperty("spark.jobGroup.id"))) {
      scala.collection.Iterator<Object> it = job.stageIds().iterator();
      while (it.hasNext()) {
        stages.add((Integer) it.next());
      }
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd end) {
    if (!stages.contains(end.stageId()) || tasks == null) {
      return;
    }
    int index = end.taskInfo().index();
    String name = index < names.size() ? names.get(index) : "task " + index;
    if (end.reason() == Success$.MODULE$) {
      if (reported.putIfAbsent(index, true) == null) {
        tasks.done(name + String.format(Locale.ROOT, " in %.2f s", end.taskInfo().duration() / 1e3));
      }
    } else {
      info(String.format(Locale.ROOT, "  %s: attempt %d failed (%s); Spark retries it", name,
          end.taskInfo().attemptNumber(), end.reason().toString().lines().findFirst().orElse("")));
    }
  }

  /** Seconds since the run started. */
  double elapsed() {
    return (System.nanoTime() - start) / 1e9;
  }

  /** Steps of one phase, timed from its creation. */
  final class Phase {
    private final String name;
    private final int total;
    private final long begin = System.nanoTime();
    private int done;

    Phase(String name, int total) {
      this.name = name;
      this.total = total;
    }

    synchronized void done(String what) {
      done++;
      double s = (System.nanoTime() - begin) / 1e9;
      double eta = s / done * (total - done);
      info(String.format(Locale.ROOT, "  [%s %d/%d] %s  (elapsed %.1f s, ETA %.1f s)", name, done,
          total, what, elapsed(), eta));
    }
  }
}
