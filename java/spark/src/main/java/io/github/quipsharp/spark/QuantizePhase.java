package io.github.quipsharp.spark;

import io.github.quipsharp.LayerReport;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.pipeline.GroupQuantizer;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Phase B: one task per (layer, linear group), largest first, each running the pipeline's {@link
 * GroupQuantizer} (as the single-machine run does) on its group's summed Hessian. The group's seed is fixed by
 * (run seed, layer, group), so a retried or speculative duplicate writes the same bytes; the shard is
 * written locally, copied under a temporary name and renamed into place, and a task whose shard
 * already exists (a resumed run, or a duplicate that lost the race) does nothing.
 */
final class QuantizePhase {
  private QuantizePhase() {}

  /** One group to quantize; cost = the BlockLDLQ work, rows·cols² + cols³ (the LDL). */
  record GroupTask(int layer, LinearGroup group, int rows, int cols) implements Serializable {
    double cost() {
      return (double) rows * cols * cols + (double) cols * cols * cols;
    }

    String name() {
      return layer + "." + group.key();
    }
  }

  /** The groups whose shard is missing, largest first (ties: layer, then group order). */
  static List<GroupTask> missing(RunFolder f, LlamaConfig mc) {
    List<GroupTask> tasks = new ArrayList<>();
    for (int l = 0; l < mc.layers(); l++) {
      for (LinearGroup g : LinearGroup.values()) {
        if (!f.exists(f.shard(l, g))) {
          tasks.add(new GroupTask(l, g, g.rows(mc), g.cols(mc)));
        }
      }
    }
    tasks.sort(Comparator.comparingDouble(GroupTask::cost).reversed()
        .thenComparingInt(GroupTask::layer).thenComparing(GroupTask::group));
    return tasks;
  }

  static void run(JavaSparkContext sc, TaskSettings t, List<GroupTask> tasks, ProgressLog log) {
    if (tasks.isEmpty()) {
      return;
    }
    log.info("Phase B: " + tasks.size() + " layer groups, one task each, largest first");
    List<String> names = tasks.stream().map(task -> "quantize " + task.name()).toList();
    sc.setJobGroup(ProgressLog.TASK_LINES, "Phase B: quantize " + tasks.size() + " layer groups", false);
    log.tasks(names);
    List<String> results = sc.parallelize(tasks, tasks.size()).map(task -> quantize(t, task)).collect();
    sc.clearJobGroup();
    log.tasksDone(results);
  }

  private static String quantize(TaskSettings t, GroupTask task) throws IOException {
    t.failOnce().check(FailOnce.quantizeTask(task.layer(), task.group()));
    RunFolder f = t.folder();
    org.apache.hadoop.fs.Path shard = f.shard(task.layer(), task.group());
    if (f.exists(shard)) {
      return task.name() + " (saved before)";
    }
    t.useTaskThreads();
    Path dir = Files.createTempDirectory("quipsharp-shard-");
    try (ModelSource src = t.openModel()) {
      HessianSum h = f.hessians().read(task.layer(), task.group());
      Path local = dir.resolve("shard.safetensors");
      LayerReport r = GroupQuantizer.quantizeToShard(src, task.layer(), task.group(), h,
          t.quantConfig(), local);
      f.upload(local, shard);
      return String.format(Locale.ROOT, "%s %s relative proxy loss %.6f", task.name(),
          r.shape().describe(), r.relativeProxyLoss());
    } finally {
      AtomicFiles.deleteTree(dir);
    }
  }
}
