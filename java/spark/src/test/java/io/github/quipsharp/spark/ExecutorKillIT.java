package io.github.quipsharp.spark;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * local-cluster[2,1,1024]: two executor JVMs beside the driver. --fail-once there halts the
 * executor that runs the task's first attempt (a Phase A task, whose executor also held persisted
 * hidden states, then a Phase B task); the job must finish with the clean local[2] checkpoint. The
 * Worker launches executors from $SPARK_HOME/jars, here a folder holding the local jar.
 */
class ExecutorKillIT {
  @TempDir Path tmp;

  @Test
  void haltedExecutorsAreReplacedAndTheResultIsTheCleanOne() throws Exception {
    Stories s = Stories.load();
    Path clean = tmp.resolve("clean");
    Stories.run(Stories.jar(s.args(clean, 5)));
    Path home = tmp.resolve("spark-home");
    Files.createDirectories(home.resolve("jars"));
    Files.createSymbolicLink(home.resolve("jars").resolve("quipsharp-spark-local.jar"),
        Path.of(System.getProperty("quipsharp.spark.jar")).toAbsolutePath());
    for (String task : new String[] {"hessian:2", "quantize:1.up"}) {
      Path out = tmp.resolve(task.replace(':', '-'));
      List<String> args = new ArrayList<>(s.args(out, 5, "--fail-once", task));
      args.set(args.indexOf("local[2]"), "local-cluster[2,1,1024]");
      ProcessBuilder pb = Stories.jar(args);
      pb.environment().put("SPARK_HOME", home.toString());
      pb.environment().put("SPARK_SCALA_VERSION", "2.13"); // else the launcher looks for a build tree
      String log = Stories.run(pb);
      // The executor's own stderr stays in its work folder; the driver logs the loss.
      assertTrue(log.contains("exited with code 137") && log.contains("ExecutorLostFailure"), log);
      Stories.assertSameFiles(clean, out);
    }
  }
}
