package io.github.quipsharp.spark;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged quipsharp-spark-local.jar run as a user runs it ({@code java -jar}, no JVM flags but
 * the UI switched off): a clean run; a run whose driver is killed with SIGKILL as soon as Phase B
 * reports its first finished task, then {@code --resume}: the same checkpoint, byte for byte.
 */
class DriverKillIT {
  @TempDir Path tmp;

  // local[1]: Phase B runs its 20 tasks one after the other, so the kill lands mid-phase.
  private static ProcessBuilder command(Stories s, Path out, String... extra) {
    List<String> args = new ArrayList<>(s.args(out, 3, extra));
    args.set(args.indexOf("local[2]"), "local[1]");
    return Stories.jar(args);
  }

  @Test
  void killedDriverResumesToTheCleanCheckpoint() throws Exception {
    Stories s = Stories.load();
    Path clean = tmp.resolve("clean");
    Stories.run(command(s, clean));

    Path killed = tmp.resolve("killed");
    Process p = command(s, killed).start();
    StringBuilder seen = new StringBuilder();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        seen.append(line).append('\n');
        if (line.contains("[quantize 1/")) {
          p.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup
          break;
        }
      }
    }
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertTrue(seen.toString().contains("[quantize 1/"), seen.toString());
    Path layers = killed.resolve(".partial").resolve("layers");
    long shards;
    try (var l = Files.list(layers)) {
      shards = l.filter(f -> f.getFileName().toString().endsWith(".safetensors")
          && !f.getFileName().toString().startsWith(".")).count();
    }
    assertFalse(Files.exists(killed.resolve("config.json")), "the killed run finished");
    assertTrue(shards >= 1 && shards < 20, shards + " shards before the kill");

    String resumed = Stories.run(command(s, killed, "--resume"));
    assertTrue(resumed.contains("resuming the interrupted run"), resumed);
    assertFalse(resumed.contains("Phase A: Hessians"), "Phase A ran again: " + resumed);
    Stories.assertSameFiles(clean, killed);
    assertFalse(Files.exists(killed.resolve(".partial")));
  }
}
