package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.Rounding;
import io.github.quipsharp.model.LlamaConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Memory of fine-tuning does not grow with the number of layers beyond one block's share: on
 * synthetic 2-bit models of 1, 2 and 4 layers, end-to-end tuning (validation, sweep-free training
 * steps with their backward passes) and blockwise tuning never hold more decoded fixed matrices
 * than one block's, and none outlives its block; keeping every block decoded (an option for
 * devices with memory to spare) holds them all and gives the same checkpoint.
 *
 * <p>Measured by counting the bytes of the decoded matrices that exist ({@link DecodedMatrices}),
 * the memory that used to be per layer (2.0 GB per 4096/11008 layer in fp32). Process RSS would
 * include the JVM heap, libtorch's allocator caches and the page cache of mapped files, which move
 * by more than a small model's block between runs; the README's synthetic 4096/11008 benchmark
 * measures RSS where a block is 0.8 GB and the slope stands out of that noise.
 */
class DecodedMemoryTest {
  static final int CTX = 16;

  @TempDir Path tmp;

  @Test
  void peakDecodedBytesAreOneBlockWhateverTheLayerCount() throws Exception {
    long oneBlock = SyntheticCheckpoints.blockBytes(SyntheticCheckpoints.config(1), 4);
    // Other tests in this JVM may hold decoded matrices of their own: count from what is alive.
    long base = DecodedMatrices.liveBytes();
    for (int layers : new int[] {1, 2, 4}) {
      LlamaConfig c = SyntheticCheckpoints.config(layers);
      int[] cal = SyntheticCheckpoints.tokens(c, 12 * CTX, layers);
      Path dir = tmp.resolve("l" + layers);
      Path[] fpAndQ = SyntheticCheckpoints.write(dir, c, cal, CTX);

      DecodedMatrices.resetPeak();
      EndToEndTuner.Report r = EndToEndTuner.tune(fpAndQ[1], fpAndQ[0], cal, CTX, dir.resolve("e2e"),
          FineTuneOptions.E2E_DEFAULTS.withEpochs(2), null);
      long e2ePeak = DecodedMatrices.peakBytes() - base;
      long e2eLeaks = DecodedMatrices.stillReferenced();

      DecodedMatrices.resetPeak();
      ModelQuantizer.quantize(fpAndQ[0], cal, QuantConfig.builder().bits(2).seed(1)
          .rounding(Rounding.NEAREST).refinePasses(0).build(), dir.resolve("block"),
          ModelQuantizer.Options.builder().ctx(CTX)
              .tuner(new BlockwiseTuner(FineTuneOptions.BLOCK_DEFAULTS.withEpochs(1).withBatch(4))).build());
      long blockPeak = DecodedMatrices.peakBytes() - base;
      System.out.printf("%d layers: peak decoded bytes end-to-end %d (%d epochs), blockwise %d; "
          + "one block %d%n", layers, e2ePeak, r.epochs(), blockPeak, oneBlock);
      assertEquals(oneBlock, e2ePeak, layers + " layers end-to-end");
      assertEquals(0, e2eLeaks, "a decoded matrix outlived its block");
      // Blockwise decodes only the groups quantized so far: at most qkv, o and up of one block.
      assertEquals(oneBlock - 4L * c.dim() * c.hiddenDim(), blockPeak, layers + " layers blockwise");
      assertEquals(0, DecodedMatrices.stillReferenced());
      assertEquals(base, DecodedMatrices.liveBytes());

      // keepDecoded: every block decoded once and kept; the same checkpoint, bit for bit.
      DecodedMatrices.resetPeak();
      EndToEndTuner.tune(fpAndQ[1], fpAndQ[0], cal, CTX, dir.resolve("kept"),
          FineTuneOptions.E2E_DEFAULTS.withEpochs(2).withKeepDecoded(true), null);
      assertEquals(layers * oneBlock, DecodedMatrices.peakBytes() - base, "all blocks kept");
      org.junit.jupiter.api.Assertions.assertArrayEquals(
          java.nio.file.Files.readAllBytes(dir.resolve("e2e/model.safetensors")),
          java.nio.file.Files.readAllBytes(dir.resolve("kept/model.safetensors")));
    }
  }
}
