package io.github.quipsharp.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

  private static String run(List<String> args, Path sparkHome) throws Exception {
    List<String> c = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dspark.ui.enabled=false", "-jar", System.getProperty("quipsharp.spark.jar")));
    c.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(c).redirectErrorStream(true);
    if (sparkHome != null) {
      pb.environment().put("SPARK_HOME", sparkHome.toString());
      pb.environment().put("SPARK_SCALA_VERSION", "2.13");
    }
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(240, TimeUnit.SECONDS), out);
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  @Test
  void haltedExecutorsAreReplacedAndTheResultIsTheCleanOne() throws Exception {
    Stories s = Stories.load();
    Path clean = tmp.resolve("clean");
    run(s.args(clean, 5), null);
    Path home = tmp.resolve("spark-home");
    Files.createDirectories(home.resolve("jars"));
    Files.createSymbolicLink(home.resolve("jars").resolve("quipsharp-spark-local.jar"),
        Path.of(System.getProperty("quipsharp.spark.jar")).toAbsolutePath());
    for (String task : new String[] {"hessian:2", "quantize:1.up"}) {
      Path out = tmp.resolve(task.replace(':', '-'));
      List<String> args = new ArrayList<>(s.args(out, 5, "--fail-once", task));
      args.set(args.indexOf("local[2]"), "local-cluster[2,1,1024]");
      String log = run(args, home);
      // The executor's own stderr stays in its work folder; the driver logs the loss.
      assertTrue(log.contains("exited with code 137") && log.contains("ExecutorLostFailure"), log);
      Stories.assertSameFiles(clean, out);
    }
  }
}
