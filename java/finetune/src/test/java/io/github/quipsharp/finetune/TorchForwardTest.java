package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.testing.SharedModels;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The libtorch model against the native engine (an independent implementation of the same math). */
class TorchForwardTest {
  @TempDir Path tmp;

  static int[] text(Path model, int count) throws Exception {
    Tokenizer tok = Tokenizer.forModel(model);
    String s = Files.readString(SharedModels.require("tinystories-sample.txt"));
    return Arrays.copyOf(tok.encode(s, true, false), count);
  }

  /** max |a - b| / max |b|. */
  static double relError(float[] a, float[] b) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      num = Math.max(num, Math.abs((double) a[i] - b[i]));
      den = Math.max(den, Math.abs(b[i]));
    }
    return num / den;
  }

  static float[] torchLogits(TorchLlama m, int[]... windows) {
    try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
      int t = windows[0].length;
      int[] flat = new int[windows.length * t];
      for (int i = 0; i < windows.length; i++) {
        System.arraycopy(windows[i], 0, flat, i * t, t);
      }
      Tensor out = m.forward(Torch.tokens(flat, windows.length, t));
      return Torch.floats(out);
    }
  }

  static float[] nativeLogits(Path path, int[]... windows) {
    try (LlamaModel m = LlamaModel.load(path)) {
      int v = m.config().vocabSize();
      int t = windows[0].length;
      float[] all = new float[windows.length * t * v];
      for (int i = 0; i < windows.length; i++) {
        System.arraycopy(m.forward(windows[i], 0, true), 0, all, i * t * v, t * v);
      }
      return all;
    }
  }

  void checkFp(Path model) throws Exception {
    int[] a = text(model, 96);
    int[] b = Arrays.copyOfRange(text(model, 400), 300, 396);
    b[0] = a[0];
    float[] ref = nativeLogits(model, a, b);
    TorchLlama m;
    try (ModelSource src = ModelSource.open(model)) {
      m = TorchLlama.fromSource(src, ScalarType.Float);
    }
    float[] got = torchLogits(m, a, b);
    double err = relError(got, ref);
    System.out.printf("fp32 %s: libtorch vs native max rel error %.3g%n", model.getFileName(), err);
    assertTrue(err < 1e-5, "relative error " + err);
  }

  @Test
  void fp32HuggingFaceMatchesNative() throws Exception {
    checkFp(SharedModels.require("stories260K-hf"));
  }

  @Test
  void fp32Llama2cMatchesNative() throws Exception {
    // llama2.c's interleaved RoPE; the HF layout uses rotate-half.
    checkFp(SharedModels.require("stories260K"));
  }

  @Test
  void twoBitCheckpointMatchesNative() throws Exception {
    Path model = SharedModels.require("stories260K-hf");
    Path ck = tmp.resolve("ck");
    int[] all = text(model, 40000);
    ModelQuantizer.quantize(model, CalibrationSplit.calibration(all, 0.75),
        QuantConfig.builder().bits(2).seed(1).build(), ck,
        ModelQuantizer.Options.builder().ctx(256).samples(24).build());
    int[] w = Arrays.copyOf(all, 128);
    float[] ref = nativeLogits(ck, w);
    TorchLlama m;
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(ck)) {
      m = TorchLlama.fromCheckpoint(in, ScalarType.Float);
    }
    double err = relError(torchLogits(m, w), ref);
    System.out.printf("2-bit checkpoint: libtorch vs native max rel error %.3g%n", err);
    assertTrue(err < 1e-3, "relative error " + err);
  }
}
