package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.Rounding;
import io.github.quipsharp.model.LlamaConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * End-to-end fine-tuning's gradients for the families with the most extra pieces, in double
 * precision on the 2-bit checkpoints of the transformers fixtures: Gemma 2 ((1 + w) norms, four
 * norms per layer, embedding scale, attention and final soft-caps, query_pre_attn_scalar, GeGLU,
 * sliding windows on alternate layers, tied head) and Qwen 3 (per-head q/k norms before RoPE). The
 * block-by-block pass against one graph over the model, and against central finite differences for
 * entries of every parameter (every norm of every layer included), as BlockByBlockGradientTest does
 * for Llama.
 */
class FamilyGradientTest {
  static final int BATCH = 2;
  static final int T = 20; // past the sliding window of 8

  @TempDir Path tmp;

  @ParameterizedTest
  @ValueSource(strings = {"gemma2", "qwen3"})
  void gradientsEqualOneGraphAndFiniteDifferences(String name) throws Exception {
    Path model = TorchFamiliesTest.fixture(name);
    LlamaConfig c = TorchFamiliesTest.config(model);
    Path ck = tmp.resolve(name);
    ModelQuantizer.quantize(model, SyntheticCheckpoints.tokens(c, 8 * 32, 3), QuantConfig.builder()
        .bits(2).seed(1).rounding(Rounding.NEAREST).refinePasses(0).build(), ck,
        ModelQuantizer.Options.builder().ctx(32).samples(8).build());
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(ck)) {
      TorchLlama m = TorchLlama.fromCheckpoint(in, ScalarType.Double, true);
      List<TorchLlama.Param> params = BlockByBlockGradientTest.trainable(m);
      long norms = params.stream().filter(p -> p.name().endsWith("norm.weight")).count();
      // Gemma 2: 4 per layer and the final norm; Qwen 3: 2 + q/k per layer and the final norm.
      assertEquals(4L * c.layers() + 1, norms, "every norm is trained");
      Tensor tokens = Torch.tokens(SyntheticCheckpoints.tokens(c, BATCH * T, 5), BATCH, T);
      SplittableRandom r = new SplittableRandom(9);
      double[] v = new double[BATCH * T * c.vocabSize()];
      for (int i = 0; i < v.length; i++) {
        v[i] = 2 * r.nextGaussian();
      }
      Tensor target = Torch.ofDoubles(v, BATCH, T, c.vocabSize());

      double v1 = BlockByBlockGradientTest.oneGraph(m, tokens, target);
      double[] g1 = BlockByBlockGradientTest.grads(params);
      double v2 = m.lossAndGradients(tokens, l -> EndToEndTuner.softCrossEntropy(l, target));
      double[] g2 = BlockByBlockGradientTest.grads(params);
      double err = BlockByBlockGradientTest.relError(g2, g1);
      System.out.printf("%s block by block vs one graph: loss %.15f / %.15f, gradients max rel "
          + "error %.3g%n", name, v2, v1, err);
      assertEquals(v1, v2, 1e-13 * Math.abs(v1));
      assertTrue(err < 1e-12, "gradient error " + err);

      double worst = 0;
      int offset = 0;
      SplittableRandom pick = new SplittableRandom(13);
      for (TorchLlama.Param p : params) {
        int n = (int) p.tensor().numel();
        double scale = BlockByBlockGradientTest.maxAbs(Arrays.copyOfRange(g2, offset, offset + n));
        assertTrue(scale > 0, p.name() + " has no gradient");
        for (int k = 0; k < 3; k++) {
          int i = pick.nextInt(n);
          double fd = BlockByBlockGradientTest.finiteDifference(m, p.tensor(), i, tokens, target);
          worst = Math.max(worst, Math.abs(fd - g2[offset + i]) / scale);
        }
        offset += n;
      }
      System.out.printf("%s block by block vs finite differences: max rel error %.3g over %d "
          + "entries of %d parameters%n", name, worst, 3 * params.size(), params.size());
      assertTrue(worst < 1e-7, "finite-difference error " + worst);
    }
  }
}
