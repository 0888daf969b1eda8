package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.testing.SharedModels;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End-to-end tuning killed with SIGKILL in its second epoch, or in the middle of its learning-rate
 * sweep, then resumed in another JVM.
 */
class EndToEndKillTest {
  static final FineTuneOptions OPT = FineTuneOptions.E2E_DEFAULTS.withEpochs(3).withWindows(24);
  /** Auto learning rates: a sweep of 16 points before 2 epochs. */
  static final FineTuneOptions SWEEP = FineTuneOptions.E2E_AUTO.withEpochs(2).withWindows(24);

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
        Path.of(args[1]), args.length > 2 && args[2].equals("sweep") ? SWEEP : OPT, slow);
  }

  /** The 2-bit checkpoint both tests tune. */
  Path quantized(Path model, int[] cal) {
    Path q = tmp.resolve("q");
    ModelQuantizer.quantize(model, cal, QuantConfig.builder().bits(2).seed(1).build(), q,
        ModelQuantizer.Options.builder().ctx(256).samples(24).build());
    return q;
  }

  /**
   * Forks a JVM tuning {@code q} into {@code out} ({@code mode} "sweep" or "epochs"), waits until
   * the file {@code appears} exists, {@code afterMillis} more, and kills it with SIGKILL (no
   * shutdown hooks, no cleanup).
   */
  void forkAndKill(Path q, Path out, String mode, Path appears, long afterMillis) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path log = tmp.resolve("fork-" + mode + ".log");
    Process p = new ProcessBuilder(java, "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0",
        "-Dquipsharp.models=" + SharedModels.root(), "-cp", System.getProperty("java.class.path"),
        EndToEndKillTest.class.getName(), q.toString(), out.toString(), mode)
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
    while (!Files.exists(appears) && p.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    Thread.sleep(afterMillis);
    assertTrue(p.isAlive(), "the fork ended before it was killed: " + Files.readString(log));
    p.destroyForcibly();
    p.waitFor();
  }

  @Test
  void killedInTheSweepResumesToTheSameCheckpoint() throws Exception {
    Path model = SharedModels.require("stories260K-hf");
    int[] cal = calibration();
    Path q = quantized(model, cal);
    Path killed = tmp.resolve("killed");
    Path sweep = killed.resolve(EndToEndTuner.STATE).resolve("sweep.json");
    forkAndKill(q, killed, "sweep", sweep, 300); // into the point after the first saved one
    int saved = new com.fasterxml.jackson.databind.ObjectMapper().readTree(sweep.toFile())
        .path("points").size();
    assertTrue(saved >= 1 && saved < 16, saved + " points saved");
    assertFalse(Files.exists(killed.resolve(EndToEndTuner.STATE).resolve("current.json")),
        "killed before training");
    EndToEndTuner.Report r = EndToEndTuner.tune(q, model, cal, 256, killed, SWEEP.withResume(true), null);
    assertTrue(r.resumed());
    assertEquals(16, r.sweep().size());
    Path clean = tmp.resolve("clean");
    EndToEndTuner.Report c = EndToEndTuner.tune(q, model, cal, 256, clean, SWEEP, null);
    assertEquals(c.lr(), r.lr());
    assertEquals(c.signLr(), r.signLr());
    assertArrayEquals(Files.readAllBytes(clean.resolve("model.safetensors")),
        Files.readAllBytes(killed.resolve("model.safetensors")), "model.safetensors of the resumed run");
  }

  @Test
  void killedTuningResumesToTheSameCheckpoint() throws Exception {
    Path model = SharedModels.require("stories260K-hf");
    int[] cal = calibration();
    Path q = quantized(model, cal);
    Path killed = tmp.resolve("killed");
    Path pointer = killed.resolve(EndToEndTuner.STATE).resolve("current.json");
    forkAndKill(q, killed, "epochs", pointer, 500); // into epoch 2
    assertTrue(Files.readString(pointer).contains("epoch-1"), Files.readString(pointer));
    // Resuming with another learning rate is refused in one line naming the setting (its key: the
    // command line adds the flag); the state stays.
    FineTuneOptions other = OPT.withLearningRates(2 * OPT.lr(), OPT.signLr()).withResume(true);
    io.github.quipsharp.ResumeMismatchException e = org.junit.jupiter.api.Assertions.assertThrows(
        io.github.quipsharp.ResumeMismatchException.class,
        () -> EndToEndTuner.tune(q, model, cal, 256, killed, other, null));
    assertTrue(e.getMessage().contains("options.lr was " + OPT.lr() + ", now " + 2 * OPT.lr())
        && !e.getMessage().contains("\n") && !e.getMessage().contains("calibration_hash")
        && !e.getMessage().contains("--"), e.getMessage());
    assertEquals(java.util.List.of("options.lr"),
        e.differences().stream().map(d -> d.key()).toList());
    assertTrue(Files.readString(pointer).contains("epoch-1"), "the saved state is kept");
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
