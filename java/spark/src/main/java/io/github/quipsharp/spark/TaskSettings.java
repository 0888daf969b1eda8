package io.github.quipsharp.spark;

import io.github.quipsharp.NativeThreads;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.model.ModelSource;
import java.io.Serializable;

/**
 * What every task of a run needs, shipped with the task: where the model is (tasks read their
 * weights from the model files, never from a broadcast copy), the run folder, the full quantization
 * config (every setting {@code quipsharp quantize} accepts), the window length, the native threads
 * per task and the fault to inject.
 */
record TaskSettings(String model, RunFolder folder, QuantConfig quantConfig, int ctx,
    int threadsPerTask, FailOnce failOnce) implements Serializable {

  /** Opens the model on this machine (a local copy when it lives on HDFS or S3). */
  ModelSource openModel() {
    return ModelSource.open(LocalCopies.of(model));
  }

  /** The native threads of a task: its share of the executor's cores (spark.task.cpus). */
  void useTaskThreads() {
    NativeThreads.set(threadsPerTask);
  }
}
