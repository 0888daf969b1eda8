package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.testing.SharedModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Auto learning rates and epochs on stories260K (24 windows: 16 train, 8 validate), interrupted
 * in the middle of the learning-rate sweep and resumed: the same checkpoint, byte for byte, as an
 * uninterrupted run, end to end and blockwise; and what the checkpoints record.
 */
class SweepResumeTest {
  static final int CTX = 256;
  static final int WINDOWS = 24;
  static final QuantConfig CFG = QuantConfig.builder().bits(2).seed(1).build();

  @TempDir static Path shared;
  @TempDir Path tmp;
  static Path model;
  static int[] calibration;
  static Path quantized;

  @BeforeAll
  static void quantize() throws Exception {
    model = SharedModels.require("stories260K-hf");
    calibration = EndToEndKillTest.calibration();
    quantized = shared.resolve("q2");
    ModelQuantizer.quantize(model, calibration, CFG, quantized,
        ModelQuantizer.Options.builder().ctx(CTX).samples(WINDOWS).build());
  }

  /** Throws when the sweep reaches the second epoch of point {@code point}. */
  static ProgressListener stopInSweepPoint(String stage, int point) {
    return new ProgressListener() {
      @Override
      public void tuningStep(String s, int epoch, int step, int steps, double loss) {
        if (s.equals(stage + " lr sweep " + point + "/16") && epoch == 2) {
          throw new IllegalStateException("interrupted");
        }
      }
    };
  }

  /** The tunings' records without their wall times. */
  static JsonNode withoutSeconds(JsonNode tunings) {
    JsonNode copy = tunings.deepCopy();
    copy.forEach(t -> ((com.fasterxml.jackson.databind.node.ObjectNode) t).remove("seconds"));
    return copy;
  }

  static JsonNode finetune(Path ck) {
    try (QuantizedCheckpoint.Contents c = QuantizedCheckpoint.open(ck)) {
      return CoreInternals.json(c).path("quipsharp");
    }
  }

  @Test
  void endToEndResumedInTheSweepEqualsAnUninterruptedRun() throws Exception {
    FineTuneOptions opt = FineTuneOptions.E2E_AUTO.withWindows(WINDOWS).withEpochs(2);
    Path whole = tmp.resolve("whole");
    EndToEndTuner.Report r = EndToEndTuner.tune(quantized, model, calibration, CTX, whole, opt, null);
    assertEquals(16, r.sweep().size());
    Path cut = tmp.resolve("cut");
    assertThrows(IllegalStateException.class, () -> EndToEndTuner.tune(quantized, model,
        calibration, CTX, cut, opt, stopInSweepPoint("end-to-end", 7)));
    JsonNode saved = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        cut.resolve(EndToEndTuner.STATE).resolve("sweep.json").toFile());
    assertEquals(6, saved.path("points").size(), "points 1-6 were saved");
    assertFalse(Files.exists(cut.resolve("model.safetensors")), "no checkpoint before training");
    EndToEndTuner.Report again = EndToEndTuner.tune(quantized, model, calibration, CTX, cut,
        opt.withResume(true), null);
    assertTrue(again.resumed());
    assertArrayEquals(Files.readAllBytes(whole.resolve("model.safetensors")),
        Files.readAllBytes(cut.resolve("model.safetensors")), "resumed run differs");
    JsonNode a = finetune(whole).path("finetune");
    JsonNode b = finetune(cut).path("finetune");
    assertEquals(a.path("lr_sweep").path("points").size(), 16);
    for (int i = 0; i < 16; i++) {
      assertEquals(a.path("lr_sweep").path("points").get(i).path("valid_loss"),
          b.path("lr_sweep").path("points").get(i).path("valid_loss"), "sweep point " + (i + 1));
    }
    assertEquals(r.lr(), a.path("lr").asDouble());
    assertEquals(r.lr(), a.path("lr_sweep").path("chosen_lr").asDouble());
    assertEquals(r.signLr(), b.path("sign_lr").asDouble());
    assertEquals("epochs_done", a.path("stop_reason").asText());
    assertEquals("auto", a.path("options").path("lr").asText());
  }

  @Test
  void blockwiseResumedInTheSweepEqualsAnUninterruptedRun() throws Exception {
    // Auto learning rates; one epoch per tuning (until early stopping takes up to 100 epochs).
    FineTuneOptions opt = FineTuneOptions.BLOCK_AUTO.withWindows(WINDOWS).withEpochs(1);
    Path whole = tmp.resolve("whole");
    BlockwiseTuner first = new BlockwiseTuner(opt);
    ModelQuantizer.quantize(model, calibration, CFG, whole,
        ModelQuantizer.Options.builder().ctx(CTX).samples(WINDOWS).tuner(first).build());
    System.out.println("blockwise, auto: " + first.summary());
    Path cut = tmp.resolve("cut");
    assertThrows(IllegalStateException.class, () -> ModelQuantizer.quantize(model, calibration,
        CFG, cut, ModelQuantizer.Options.builder().ctx(CTX).samples(WINDOWS)
            .listener(stopInSweepPoint("blockwise", 9)).tuner(new BlockwiseTuner(opt)).build()));
    ModelQuantizer.quantize(model, calibration, CFG, cut,
        ModelQuantizer.Options.builder().ctx(CTX).samples(WINDOWS).resume(true)
            .tuner(new BlockwiseTuner(opt)).build());
    assertArrayEquals(Files.readAllBytes(whole.resolve("model.safetensors")),
        Files.readAllBytes(cut.resolve("model.safetensors")), "resumed run differs");
    JsonNode rec = finetune(whole).path("blockwise_finetune_record");
    assertEquals(16, rec.path("lr_sweep").path("points").size());
    assertEquals(15, rec.path("tunings").size(), "3 tunings in each of 5 layers");
    for (JsonNode t : rec.path("tunings")) {
      assertEquals("epochs_done", t.path("stop_reason").asText(), t.toString());
      assertEquals(first.summary().contains("chosen by the sweep"), true);
      assertEquals(rec.path("tunings").get(0).path("lr"), t.path("lr"), "one sweep for all tunings");
    }
    assertEquals(withoutSeconds(rec.path("tunings")),
        withoutSeconds(finetune(cut).path("blockwise_finetune_record").path("tunings")),
        "the record of the resumed run differs");
  }
}
