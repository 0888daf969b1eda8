package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.WeightSpec;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code --finetune both} on the tiny transformers fixture of every family: 2-bit quantization with
 * blockwise tuning (§6.2), then end-to-end tuning (§6.3), at tiny settings (24 windows of 32
 * random tokens, 16 to train and 8 to validate; 2 epochs at fixed learning rates chosen for these
 * tiny random models: blockwise 1e-3 / SU,SV 1e-2, end-to-end 1e-4 / 1e-3, at which every family's
 * validation loss falls; the defaults are for real models). The tuned
 * checkpoints load in the native engine, which judges them independently of the trainer: the
 * KL divergence from the fp model's next-token distribution on 8 held-out windows (other random
 * tokens) must fall with each stage, every norm of every layer (the family's extra ones included)
 * must have been trained and written back, and the libtorch model of the written checkpoint must
 * equal the native engine's logits.
 */
class FamilyFineTuneTest {
  static final int CTX = 32;
  static final int WINDOWS = 24;
  static final QuantConfig CFG = QuantConfig.builder().bits(2).seed(1).build();
  static final FineTuneOptions BLOCK = FineTuneOptions.BLOCK_DEFAULTS.withEpochs(2).withWindows(WINDOWS)
      .withLearningRates(1e-3, 1e-2);
  static final FineTuneOptions E2E = FineTuneOptions.E2E_DEFAULTS.withEpochs(2).withWindows(WINDOWS)
      .withLearningRates(1e-4, 1e-3);

  @TempDir Path tmp;

  /** Mean over windows and positions of KL(fp ‖ model) of the next-token distributions. */
  static double kl(Path fp, Path model, int[][] windows) {
    double sum = 0;
    int n = 0;
    try (LlamaModel p = LlamaModel.load(fp); LlamaModel q = LlamaModel.load(model)) {
      int v = p.config().vocabSize();
      for (int[] w : windows) {
        float[] a = p.forward(w, 0, true);
        float[] b = q.forward(w, 0, true);
        for (int t = 0; t < w.length; t++) {
          double[] lp = logSoftmax(a, t * v, v);
          double[] lq = logSoftmax(b, t * v, v);
          for (int i = 0; i < v; i++) {
            sum += Math.exp(lp[i]) * (lp[i] - lq[i]);
          }
          n++;
        }
      }
    }
    return sum / n;
  }

  static double[] logSoftmax(float[] z, int off, int v) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < v; i++) {
      max = Math.max(max, z[off + i]);
    }
    double s = 0;
    for (int i = 0; i < v; i++) {
      s += Math.exp(z[off + i] - max);
    }
    double log = max + Math.log(s);
    double[] out = new double[v];
    for (int i = 0; i < v; i++) {
      out[i] = z[off + i] - log;
    }
    return out;
  }

  static float[] dense(Path ck, WeightSpec s) {
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(ck)) {
      return in.denseWeight(s);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama3", "llama-bias", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"})
  void bothStagesLowerTheKlToTheFpModel(String name) throws Exception {
    Path model = TorchFamiliesTest.fixture(name);
    LlamaConfig c = TorchFamiliesTest.config(model);
    int[] calibration = SyntheticCheckpoints.tokens(c, WINDOWS * CTX, 11);
    int[] heldout = SyntheticCheckpoints.tokens(c, 8 * CTX, 12);
    int[][] eval = new int[8][];
    for (int i = 0; i < eval.length; i++) {
      eval[i] = Arrays.copyOfRange(heldout, i * CTX, (i + 1) * CTX);
    }
    long start = System.nanoTime();
    Path plain = tmp.resolve("plain");
    ModelQuantizer.quantize(model, calibration, CFG, plain,
        ModelQuantizer.Options.builder().ctx(CTX).samples(WINDOWS).build());
    Path block = tmp.resolve("block");
    TuningOutcomes tunings = new TuningOutcomes();
    ModelQuantizer.quantize(model, calibration, CFG, block,
        ModelQuantizer.Options.builder().ctx(CTX).samples(WINDOWS)
            .listener(tunings).tuner(new BlockwiseTuner(BLOCK)).build());
    Path both = tmp.resolve("both");
    EndToEndTuner.Report r = EndToEndTuner.tune(block, model, calibration, CTX, both, E2E, null);
    double seconds = (System.nanoTime() - start) / 1e9;

    double klPlain = kl(model, plain, eval);
    double klBlock = kl(model, block, eval);
    double klBoth = kl(model, both, eval);
    System.out.printf(Locale.ROOT, "%s: held-out KL to fp %.5f (2-bit) -> %.5f (blockwise, %d of %d "
        + "tunings lowered their validation loss) -> %.5f (end-to-end, validation %.5f -> %.5f); "
        + "%.1f s%n", name, klPlain, klBlock, tunings.lowered(), tunings.total(), klBoth,
        r.initialValidLoss(), r.bestValidLoss(), seconds);
    assertEquals(3 * c.layers(), tunings.total());
    assertTrue(2 * tunings.lowered() > tunings.total(), tunings.lowered() + " of " + tunings.total()
        + " tunings lowered the validation loss");
    assertTrue(klBlock < klPlain, "blockwise: KL " + klBlock + " not below " + klPlain);
    assertTrue(r.bestValidLoss() < r.initialValidLoss(), "end-to-end validation loss did not fall");
    assertTrue(klBoth < klBlock, "end-to-end: KL " + klBoth + " not below " + klBlock);

    // Every norm was tuned and written back under its own name: blockwise against the untuned
    // checkpoint's (the fp model's, in fp16), end-to-end against the blockwise checkpoint's.
    for (WeightSpec s : WeightSpec.all(c)) {
      if (s.role().isNorm()) {
        float[] b = dense(block, s);
        if (s.layer() >= 0) {
          assertNotEquals(Arrays.toString(dense(plain, s)), Arrays.toString(b),
              s.name() + " was not tuned blockwise");
        }
        assertNotEquals(Arrays.toString(b), Arrays.toString(dense(both, s)),
            s.name() + " was not tuned end to end");
      }
    }
    int[] w = eval[0];
    float[] ref = TorchForwardTest.nativeLogits(both, w);
    TorchLlama m;
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(both)) {
      m = TorchLlama.fromCheckpoint(in, ScalarType.Float);
    }
    double err = TorchForwardTest.relError(TorchForwardTest.torchLogits(m, w), ref);
    assertTrue(err < 1e-5, "tuned checkpoint: libtorch vs native relative error " + err);
  }
}
