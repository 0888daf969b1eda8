package io.github.quipsharp.finetune;

import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.Rounding;
import io.github.quipsharp.SyntheticModel;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.safetensors.DType;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** Small random Llama models and their 2-bit checkpoints, made in the test's folder. */
final class SyntheticCheckpoints {
  private SyntheticCheckpoints() {}

  /** dim 64 (4 heads of 16, 2 kv heads), hidden 96, vocab 80, untied head, rotate-half RoPE. */
  static LlamaConfig config(int layers) {
    return new LlamaConfig("LlamaForCausalLM", 64, 96, layers, 4, 2, 16, 80, 64, 10000.0, 1e-5,
        false, false, 1, 2);
  }

  /** Random token ids of the config's vocabulary. */
  static int[] tokens(LlamaConfig c, int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = r.nextInt(c.vocabSize());
    }
    return t;
  }

  /** The fp model in {@code dir/fp} and its 2-bit checkpoint (nearest rounding) in {@code dir/q2}. */
  static Path[] write(Path dir, LlamaConfig c, int[] calibration, int ctx) throws Exception {
    Path fp = dir.resolve("fp");
    SyntheticModel.write(fp, c, DType.F32, 7, null);
    Path q = dir.resolve("q2");
    ModelQuantizer.quantize(fp, calibration, QuantConfig.builder().bits(2).seed(1)
        .rounding(Rounding.NEAREST).refinePasses(0).build(), q,
        ModelQuantizer.Options.builder().ctx(ctx).samples(4).build());
    return new Path[] {fp, q};
  }

  /** Bytes of one block's decoded fixed matrices at {@code bytesPerValue}. */
  static long blockBytes(LlamaConfig c, int bytesPerValue) {
    long values = 0;
    for (io.github.quipsharp.LinearGroup g : io.github.quipsharp.LinearGroup.values()) {
      values += (long) g.rows(c) * g.cols(c);
    }
    return values * bytesPerValue;
  }
}
