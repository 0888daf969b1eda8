package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.SharedModels;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End-to-end tuning killed with SIGKILL in its second epoch, then resumed in another JVM. */
class EndToEndKillTest {
  static final FineTuneOptions OPT = FineTuneOptions.E2E_DEFAULTS.withEpochs(3).withWindows(24);

  @TempDir Path tmp;

  static int[] calibration() throws Exception {
    Path model = SharedModels.require("stories260K-hf");
    int[] all = Tokenizer.forModel(model).encode(
        Files.readString(SharedModels.require("tinystories-sample.txt")), true, false);
    return CalibrationSplit.calibration(all, 0.75);
  }

  /** Run by the forked JVM: tunes CHECKPOINT into OUT slowly (a pause after each step). */
  public static void main(String[] args) throws Exception {
    ProgressListener slow = new ProgressListener() {
      @Override
      public void tuningStep(String stage, int epoch, int step, int steps, double loss) {
        try {
          Thread.sleep(150);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    };
    EndToEndTuner.tune(Path.of(args[0]), SharedModels.require("stories260K-hf"), calibration(), 256,
        Path.of(args[1]), OPT, slow);
  }

  @Test
  void killedTuningResumesToTheSameCheckpoint() throws Exception {
    Path model = SharedModels.require("stories260K-hf");
    int[] cal = calibration();
    Path q = tmp.resolve("q");
    ModelQuantizer.quantize(model, cal, QuantConfig.builder().bits(2).seed(1).build(), q,
        new ModelQuantizer.Options(256, 24, false, null));
    Path killed = tmp.resolve("killed");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0",
        "-Dquipsharp.models=" + SharedModels.root(), "-cp", System.getProperty("java.class.path"),
        EndToEndKillTest.class.getName(), q.toString(), killed.toString())
        .redirectErrorStream(true).redirectOutput(tmp.resolve("fork.log").toFile()).start();
    Path pointer = killed.resolve(EndToEndTuner.STATE).resolve("current.json");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (!Files.exists(pointer) && p.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    Thread.sleep(500); // into epoch 2
    assertTrue(p.isAlive(), "the fork ended before it was killed: " + Files.readString(tmp.resolve("fork.log")));
    p.destroyForcibly(); // SIGKILL: no shutdown hooks, no cleanup
    p.waitFor();
    assertTrue(Files.readString(pointer).contains("epoch-1"), Files.readString(pointer));
    EndToEndTuner.Report r = EndToEndTuner.tune(q, model, cal, 256, killed, OPT.withResume(true), null);
    assertTrue(r.resumed());
    assertEquals(3, r.epochs());
    Path clean = tmp.resolve("clean");
    EndToEndTuner.tune(q, model, cal, 256, clean, OPT, null);
    for (String file : new String[] {"model.safetensors", "tok512.bin"}) {
      assertArrayEquals(Files.readAllBytes(clean.resolve(file)), Files.readAllBytes(killed.resolve(file)),
          file + " of the resumed run");
    }
  }
}
