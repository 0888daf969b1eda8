package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.Rounding;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import java.nio.file.Path;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The libtorch model of every family against the native engine, which FamilyFixturesTest checks
 * against Hugging Face transformers: the tiny fixtures of java/core (written by transformers'
 * save_pretrained; tools/fixtures/make_family_fixtures.py), over two windows of 24 tokens, past
 * the sliding windows (8) of Mistral, Qwen 2, Gemma 2 and Phi-3; fp32 files, an fp16 and a bf16
 * file, and each fp32 family's 2-bit checkpoint.
 */
class TorchFamiliesTest {
  static final int T = 24;

  @TempDir Path tmp;

  static Path fixture(String name) {
    return Path.of("..", "core", "src", "test", "resources", "families", name).toAbsolutePath().normalize();
  }

  static LlamaConfig config(Path model) {
    try (ModelSource src = ModelSource.open(model)) {
      return src.config();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama", "llama3", "llama-linear", "llama-yarn", "llama-yarn-custom",
      "llama-bias", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "qwen2-f16", "gemma-bf16"})
  void fpModelMatchesNative(String name) {
    Path model = fixture(name);
    LlamaConfig c = config(model);
    if (c.options().slidingWindow() > 0) {
      assertTrue(T > 2 * c.options().slidingWindow(), "the windows must pass the sliding window");
    }
    int[] a = SyntheticCheckpoints.tokens(c, T, 1);
    int[] b = SyntheticCheckpoints.tokens(c, T, 2);
    float[] ref = TorchForwardTest.nativeLogits(model, a, b);
    TorchLlama m;
    try (ModelSource src = ModelSource.open(model)) {
      m = TorchLlama.fromSource(src, ScalarType.Float);
    }
    double err = TorchForwardTest.relError(TorchForwardTest.torchLogits(m, a, b), ref);
    System.out.printf("fp32 %s (%s): libtorch vs native max rel error %.3g%n", name,
        c.options().describe(), err);
    assertTrue(err < 1e-5, name + ": relative error " + err);
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama-yarn", "llama-bias", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"})
  void twoBitCheckpointMatchesNative(String name) throws Exception {
    Path model = fixture(name);
    LlamaConfig c = config(model);
    Path ck = tmp.resolve(name);
    ModelQuantizer.quantize(model, SyntheticCheckpoints.tokens(c, 8 * 32, 3), QuantConfig.builder().bits(2).seed(1)
        .rounding(Rounding.NEAREST).refinePasses(0).build(), ck,
        ModelQuantizer.Options.builder().ctx(32).samples(8).build());
    int[] w = SyntheticCheckpoints.tokens(c, T, 4);
    float[] ref = TorchForwardTest.nativeLogits(ck, w);
    TorchLlama m;
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(ck)) {
      m = TorchLlama.fromCheckpoint(in, ScalarType.Float);
    }
    double err = TorchForwardTest.relError(TorchForwardTest.torchLogits(m, w), ref);
    System.out.printf("2-bit %s checkpoint: libtorch vs native max rel error %.3g%n", name, err);
    assertTrue(err < 1e-5, name + ": relative error " + err);
  }
}
