package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.Perplexity;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.SyntheticModel;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.testing.SharedModels;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Short fine-tuning runs on stories260K at 2 bits (48 calibration windows of 256 tokens: 32 to
 * train on, the last 16 to validate), judged on the held-out quarter of the sample text.
 */
class FineTuneStoriesTest {
  static final int CTX = 256;
  static final int WINDOWS = 48;
  static final QuantConfig CFG = QuantConfig.builder().bits(2).seed(1).build();
  static final FineTuneOptions E2E = FineTuneOptions.E2E_DEFAULTS.withEpochs(2).withWindows(WINDOWS);

  @TempDir static Path shared;
  @TempDir Path tmp;
  static Path model;
  static int[] calibration;
  static int[] heldout;
  static Path quantized;
  static double untunedPpl;

  @BeforeAll
  static void quantize() throws Exception {
    model = SharedModels.require("stories260K-hf");
    Tokenizer tok = Tokenizer.forModel(model);
    int[] all = tok.encode(Files.readString(SharedModels.require("tinystories-sample.txt")), true, false);
    calibration = CalibrationSplit.calibration(all, 0.75);
    heldout = CalibrationSplit.heldout(all, 0.75);
    quantized = shared.resolve("q2");
    ModelQuantizer.quantize(model, calibration, CFG, quantized,
        ModelQuantizer.Options.builder().ctx(CTX).samples(WINDOWS).build());
    untunedPpl = ppl(quantized);
  }

  static double ppl(Path p) {
    try (LlamaModel m = LlamaModel.load(p)) {
      return Perplexity.evaluate(m, heldout, CTX, null).ppl();
    }
  }

  static ByteBuffer tensor(Path ck, String name) {
    try (SafetensorsFile f = SafetensorsFile.open(ck.resolve("model.safetensors"))) {
      ByteBuffer b = f.map(name);
      ByteBuffer copy = ByteBuffer.allocate(b.remaining());
      copy.put(b.duplicate()).flip();
      return copy;
    }
  }

  static void assertCodesEqual(Path a, Path b, int layers) {
    for (int l = 0; l < layers; l++) {
      for (LinearGroup g : LinearGroup.values()) {
        String p = "model.layers." + l + "." + g.checkpointName() + ".";
        assertEquals(tensor(a, p + "Qidxs"), tensor(b, p + "Qidxs"), p + "Qidxs changed");
      }
    }
    assertEquals(tensor(a, "model.embed_tokens.weight"), tensor(b, "model.embed_tokens.weight"),
        "the frozen embedding changed");
  }

  @Test
  void endToEndLowersValidationLossAndHeldOutPerplexityWithCodesUnchanged() throws Exception {
    Path out = tmp.resolve("e2e");
    EndToEndTuner.Report r = EndToEndTuner.tune(quantized, model, calibration, CTX, out, E2E, null);
    double tuned = ppl(out);
    System.out.printf("e2e 2 epochs on 32 windows: validation %.4f -> %.4f, held-out ppl %.2f -> "
        + "%.2f, %.1f s%n", r.initialValidLoss(), r.bestValidLoss(), untunedPpl, tuned, r.seconds());
    assertTrue(r.bestValidLoss() < r.initialValidLoss(), "validation loss did not fall");
    assertTrue(tuned < untunedPpl, "held-out perplexity " + tuned + " not below " + untunedPpl);
    assertCodesEqual(quantized, out, 5);
    assertFalse(Files.exists(out.resolve(EndToEndTuner.STATE)), "training state left behind");
    assertTrue(QuantizedCheckpoint.readInfo(out).layers().size() == 20);
  }

  @Test
  void tunedCheckpointRunsInTheNativeEngineWithTheLibtorchLogits() throws Exception {
    Path out = tmp.resolve("e2e");
    EndToEndTuner.tune(quantized, model, calibration, CTX, out, E2E.withEpochs(1), null);
    int[] w = java.util.Arrays.copyOf(heldout, 128);
    float[] ref = TorchForwardTest.nativeLogits(out, w);
    TorchLlama m;
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(out)) {
      assertFalse(in.config().tiedEmbeddings(), "the tuned head is stored untied");
      m = TorchLlama.fromCheckpoint(in, ScalarType.Float);
    }
    double err = TorchForwardTest.relError(TorchForwardTest.torchLogits(m, w), ref);
    System.out.printf("tuned checkpoint: libtorch vs native max rel error %.3g%n", err);
    assertTrue(err < 1e-3, "relative error " + err);
  }

  @Test
  void blockwiseLowersHeldOutPerplexity() throws Exception {
    Path out = tmp.resolve("block");
    BlockwiseTuner bt = new BlockwiseTuner(FineTuneOptions.BLOCK_DEFAULTS.withEpochs(2).withWindows(WINDOWS));
    TuningOutcomes pl = new TuningOutcomes();
    ModelQuantizer.quantize(model, calibration, CFG, out,
        ModelQuantizer.Options.builder().ctx(CTX).samples(WINDOWS).listener(pl).tuner(bt).build());
    double tuned = ppl(out);
    System.out.printf("blockwise 2 epochs on 32 windows: held-out ppl %.2f -> %.2f, tuning %.1f s; "
        + "%d of 15 tunings lowered their validation loss%n", untunedPpl, tuned, bt.seconds(), pl.lowered());
    assertEquals(15, pl.total());
    assertTrue(pl.lowered() >= 12, pl.lowered() + " of 15 tunings lowered the validation loss");
    assertTrue(tuned < untunedPpl, "held-out perplexity " + tuned + " not below " + untunedPpl);
    assertTrue(QuantizedCheckpoint.readInfo(out).layers().size() == 20);
  }

  @Test
  void interruptedBlockwiseQuantizationResumesToTheSameCheckpoint() throws Exception {
    FineTuneOptions opt = FineTuneOptions.BLOCK_DEFAULTS.withEpochs(1).withWindows(24);
    Path whole = tmp.resolve("whole");
    ModelQuantizer.quantize(model, calibration, CFG, whole,
        ModelQuantizer.Options.builder().ctx(CTX).samples(24)
            .tuner(new BlockwiseTuner(opt)).build());
    Path cut = tmp.resolve("cut");
    ProgressListener stopInLayer2 = new ProgressListener() {
      @Override
      public void tuningStep(String stage, int epoch, int step, int steps, double loss) {
        if (stage.equals("layer 2 after o")) {
          throw new IllegalStateException("interrupted");
        }
      }
    };
    assertThrows(IllegalStateException.class, () -> ModelQuantizer.quantize(model, calibration,
        CFG, cut, ModelQuantizer.Options.builder().ctx(CTX).samples(24)
            .listener(stopInLayer2).tuner(new BlockwiseTuner(opt)).build()));
    assertTrue(Files.exists(cut.resolve(".partial/layers/1_norms.safetensors")), "layer 1 is saved");
    assertFalse(Files.exists(cut.resolve(".partial/layers/2_norms.safetensors")));
    // Resuming with other fine-tuning settings is refused; with the same ones it finishes.
    IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
        () -> ModelQuantizer.quantize(model, calibration, CFG, cut, ModelQuantizer.Options.builder().ctx(CTX).samples(24).resume(true).tuner(new BlockwiseTuner(opt.withEpochs(2))).build()));
    assertTrue(other.getMessage().contains("other settings"), other.getMessage());
    ModelQuantizer.quantize(model, calibration, CFG, cut,
        ModelQuantizer.Options.builder().ctx(CTX).samples(24).resume(true)
            .tuner(new BlockwiseTuner(opt)).build());
    assertArrayEquals(Files.readAllBytes(whole.resolve("model.safetensors")),
        Files.readAllBytes(cut.resolve("model.safetensors")), "resumed run differs");
  }

  @Test
  void blockwiseNanLossStopsTheRunWithAMessage() throws Exception {
    Path out = tmp.resolve("nan");
    FineTuneException e = assertThrows(FineTuneException.class, () -> ModelQuantizer.quantize(
        model, calibration, CFG, out, ModelQuantizer.Options.builder().ctx(CTX).samples(24)
            .tuner(new BlockwiseTuner(FineTuneOptions.BLOCK_DEFAULTS.withEpochs(1).withWindows(24) .withLearningRates(1e8, 1e9))).build()));
    assertTrue(e.getMessage().contains("layer 0 after qkv"), e.getMessage());
    assertFalse(Files.exists(out.resolve("model.safetensors")), "no checkpoint from a failed run");
  }

  @Test
  void interruptedEndToEndResumesToTheSameCheckpoint() throws Exception {
    FineTuneOptions opt = E2E.withEpochs(3);
    Path whole = tmp.resolve("whole");
    EndToEndTuner.tune(quantized, model, calibration, CTX, whole, opt, null);
    Path cut = tmp.resolve("cut");
    ProgressListener stopInEpoch2 = new ProgressListener() {
      @Override
      public void tuningStep(String stage, int epoch, int step, int steps, double loss) {
        if (epoch == 2 && step == 3) {
          throw new IllegalStateException("interrupted");
        }
      }
    };
    assertThrows(IllegalStateException.class,
        () -> EndToEndTuner.tune(quantized, model, calibration, CTX, cut, opt, stopInEpoch2));
    assertTrue(Files.exists(cut.resolve(EndToEndTuner.STATE)), "the state of epoch 1 is kept");
    assertTrue(Files.exists(cut.resolve("model.safetensors")), "epoch 1's checkpoint is written");
    InterruptedFineTuningException again = assertThrows(InterruptedFineTuningException.class,
        () -> EndToEndTuner.tune(quantized, model, calibration, CTX, cut, opt, null));
    assertEquals(cut.toString(), again.folder());
    assertTrue(again.getMessage().contains("FineTuneOptions.resume"), again.getMessage());
    int[] otherText = java.util.Arrays.copyOf(calibration, calibration.length - 1);
    IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
        () -> EndToEndTuner.tune(quantized, model, otherText, CTX, cut, opt.withResume(true), null));
    assertTrue(other.getMessage().contains("other settings"), other.getMessage());
    EndToEndTuner.Report r = EndToEndTuner.tune(quantized, model, calibration, CTX, cut,
        opt.withResume(true), null);
    assertTrue(r.resumed());
    assertEquals(3, r.epochs());
    assertArrayEquals(Files.readAllBytes(whole.resolve("model.safetensors")),
        Files.readAllBytes(cut.resolve("model.safetensors")), "resumed run differs");
    try (QuantizedCheckpoint.Contents a = QuantizedCheckpoint.open(whole);
        QuantizedCheckpoint.Contents b = QuantizedCheckpoint.open(cut)) {
      assertEquals(4, CoreInternals.json(a).path("quipsharp").path("finetune").path("history").size());
      assertEquals(CoreInternals.json(a).path("quipsharp").path("finetune").path("history").size(),
          CoreInternals.json(b).path("quipsharp").path("finetune").path("history").size());
    }
  }

  @Test
  void nanLossStopsWithAMessageAndKeepsTheCheckpoint() throws Exception {
    Path inPlace = tmp.resolve("inplace");
    Files.createDirectories(inPlace);
    try (var files = Files.list(quantized)) {
      for (Path f : files.toList()) {
        Files.copy(f, inPlace.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    byte[] before = Files.readAllBytes(inPlace.resolve("model.safetensors"));
    FineTuneException e = assertThrows(FineTuneException.class,
        () -> EndToEndTuner.tune(inPlace, model, calibration, CTX, inPlace,
            E2E.withLearningRates(1e6, 1e7), null));
    System.out.println("lr 1e6: " + e.getMessage());
    assertTrue(e.getMessage().contains("NaN") || e.getMessage().contains("Infinity"), e.getMessage());
    assertTrue(e.getMessage().contains("a lower learning rate (FineTuneOptions.lr)"), e.getMessage());
    assertEquals(FineTuneException.Remedy.LOWER_LEARNING_RATE, e.remedy());
    assertArrayEquals(before, Files.readAllBytes(inPlace.resolve("model.safetensors")),
        "the last good checkpoint was overwritten");
    assertFalse(Files.exists(inPlace.resolve(EndToEndTuner.STATE)));
    assertTrue(Double.isFinite(ppl(inPlace)));
  }

  @Test
  void checkpointOfAnotherModelIsRefusedBeforeTraining() throws Exception {
    Path other = tmp.resolve("other");
    try (ModelSource src = ModelSource.open(model)) {
      SyntheticModel.write(other, src.config(), DType.F32, 5, null);
    }
    Path out = tmp.resolve("out");
    FineTuneException e = assertThrows(FineTuneException.class,
        () -> EndToEndTuner.tune(quantized, other, calibration, CTX, out, E2E, null));
    assertTrue(e.getMessage().contains("not quantized from"), e.getMessage());
    assertFalse(Files.exists(out), "nothing is written for a refused run");
  }
}
