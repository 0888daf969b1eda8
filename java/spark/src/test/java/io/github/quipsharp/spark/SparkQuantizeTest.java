package io.github.quipsharp.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.cli.options.QuantizationOptions;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.pipeline.HessianBlocks;
import io.github.quipsharp.pipeline.HessianStore;
import io.github.quipsharp.pipeline.LocalHessianStore;
import io.github.quipsharp.pipeline.RunSettings;
import io.github.quipsharp.safetensors.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The Spark job in local[2] against the single-machine {@code quipsharp quantize} on stories260K
 * with the same seed and settings: the Hessians against a whole-model float64 accumulation over
 * the same windows, the perplexity of the two checkpoints, byte identity of Phase B given the same
 * Hessians, and injected task failures that Spark retries.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SparkQuantizeTest {
  static final long SEED = 7;

  @TempDir static Path tmp;
  Stories s;
  Path single;
  Path spark;

  @BeforeAll
  void runBoth() throws IOException {
    s = Stories.load();
    single = tmp.resolve("single");
    Stories.Result m = Stories.cli("quantize", "--model", s.model.toString(), "--calibration",
        s.text.toString(), "--bits", "2", "--out", single.toString(), "--seed", Long.toString(SEED));
    assertEquals(0, m.code(), m.err());
    spark = tmp.resolve("spark");
    Stories.Result r = Stories.spark(true, s.args(spark, SEED));
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("[hessians 5/5]") && r.out().contains("[quantize 20/20]"), r.out());
  }

  @Test
  void hessiansEqualAWholeModelAccumulationWithin1e12() throws IOException {
    RunFolder f = new RunFolder(spark.toString());
    int windows = s.calibration.length / 256;
    double worst = 0;
    try (ModelSource src = ModelSource.open(s.model); LlamaModel fp = LlamaModel.fromSource(src, DType.F32)) {
      int layers = fp.config().layers();
      // One accumulator over all windows in order: another summation order than the drivers' blocks.
      CoreInternals.startHessians(fp, 0, layers);
      for (int w = 0; w < windows; w++) {
        fp.forward(Arrays.copyOfRange(s.calibration, w * 256, (w + 1) * 256), 0, false);
      }
      for (int l = 0; l < layers; l++) {
        for (LinearGroup g : LinearGroup.values()) {
          HessianSum ref = CoreInternals.hessian(fp, l, g);
          // The single machine's own reader on Spark's file: one Hessian format.
          HessianSum got = LocalHessianStore.readFile(spark.resolve(".partial")
              .resolve("hessians").resolve(HessianStore.fileName(l, g)));
          double rel = Stories.relativeDifference(ref, got);
          worst = Math.max(worst, rel);
          assertTrue(rel <= 1e-12, "layer " + l + " " + g.key() + ": relative difference " + rel);
        }
      }
    }
    System.out.printf(Locale.ROOT, "Spark vs single-machine Hessians: max |ΔH| / max |H| = %.3g%n", worst);
    // Nothing but the 20 Hessian files (no second format, no scratch left).
    java.util.List<String> expected = new java.util.ArrayList<>();
    for (int l = 0; l < 5; l++) {
      for (LinearGroup g : LinearGroup.values()) {
        expected.add(HessianStore.fileName(l, g));
      }
    }
    try (var files = Files.list(spark.resolve(".partial").resolve("hessians"))) {
      assertEquals(expected.stream().sorted().toList(),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
    assertFalse(Files.exists(spark.resolve(".partial").resolve("scratch").resolve("4")));
  }

  @Test
  void perplexityWithinHalfAPercentOfTheSingleMachineCheckpoint() {
    double pm = s.heldoutPpl(single);
    double ps = s.heldoutPpl(spark);
    System.out.printf(Locale.ROOT, "held-out ppl: single machine %.4f, Spark local[2] %.4f%n", pm, ps);
    assertTrue(Math.abs(ps / pm - 1) <= 0.005, "ppl " + ps + " vs " + pm);
  }

  @Test
  void theSameHessiansGiveByteIdenticalCheckpoints() throws IOException {
    // Phase B alone: the single machine's Hessians (the whole-model accumulation that
    // ModelQuantizer runs, block by block in HessianBlocks' order) supplied in the run folder,
    // then --resume skips Phase A.
    Path out = tmp.resolve("supplied");
    RunFolder f = new RunFolder(out.toString());
    int windows = s.calibration.length / 256;
    try (ModelSource src = ModelSource.open(s.model); LlamaModel fp = LlamaModel.fromSource(src, DType.F32)) {
      int layers = fp.config().layers();
      // The config the command builds from these flags (the shared mixin of both drivers).
      QuantizationOptions flags = new QuantizationOptions();
      new CommandLine(flags).parseArgs("--bits", "2", "--seed", Long.toString(SEED));
      QuantConfig cfg = flags.config();
      f.write(f.runFile(), RunSettings.of(src, cfg, 256, windows, s.calibration).runJson());
      HessianBlocks.Total[] totals = new HessianBlocks.Total[layers * 4];
      Arrays.setAll(totals, i -> new HessianBlocks.Total());
      CoreInternals.startHessians(fp, 0, layers);
      for (int w = 0; w < windows; w++) {
        fp.forward(Arrays.copyOfRange(s.calibration, w * 256, (w + 1) * 256), 0, false);
        if (HessianBlocks.closesBlock(w, windows)) {
          for (int l = 0; l < layers; l++) {
            for (LinearGroup g : LinearGroup.values()) {
              totals[l * 4 + g.ordinal()].add(CoreInternals.hessian(fp, l, g));
            }
          }
          CoreInternals.startHessians(fp, 0, layers);
        }
      }
      for (int l = 0; l < layers; l++) {
        for (LinearGroup g : LinearGroup.values()) {
          f.hessians().write(l, g, totals[l * 4 + g.ordinal()].result());
        }
      }
    }
    Stories.Result r = Stories.spark(false, s.args(out, SEED, "--resume"));
    assertEquals(0, r.code(), r.out() + r.err());
    assertFalse(r.out().contains("Phase A: Hessians"), r.out());
    Stories.assertSameFiles(single, out);
  }

  @Test
  void aFailedFirstAttemptInEachPhaseGivesTheCleanRunsCheckpoint() throws IOException {
    for (String task : new String[] {"hessian:1", "quantize:2.down"}) {
      Path out = tmp.resolve("fail-" + task.replace(':', '-'));
      Stories.Result r = Stories.spark(false, s.args(out, SEED, "--fail-once", task));
      assertEquals(0, r.code(), r.out() + r.err());
      if (task.startsWith("quantize")) {
        assertTrue(r.out().contains("quantize 2.down: attempt 0 failed"), r.out());
      }
      Path clean = tmp.resolve("clean-copy");
      if (!Files.exists(clean)) {
        Files.createDirectories(clean);
        for (String n : new String[] {"config.json", "model.safetensors", "tok512.bin"}) {
          Files.copy(spark.resolve(n), clean.resolve(n));
        }
      }
      Stories.assertSameFiles(clean, out);
    }
  }
}
