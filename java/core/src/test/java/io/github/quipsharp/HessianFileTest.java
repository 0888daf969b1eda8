package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The run's Hessian files: one tensor, or row blocks when one tensor would pass a Java buffer. */
class HessianFileTest {
  @TempDir Path tmp;

  static LlamaModel.HessianSum random(int n) {
    SplittableRandom r = new SplittableRandom(3);
    double[] s = new double[n * n];
    for (int i = 0; i < s.length; i++) {
      s[i] = r.nextGaussian();
    }
    return new LlamaModel.HessianSum(n, s, 1234);
  }

  @Test
  void rowBlocksRoundTripExactly() throws Exception {
    LlamaModel.HessianSum h = random(40);
    Path blocks = tmp.resolve("blocks.safetensors");
    ModelQuantizer.writeHessian(blocks, h, 1000); // 3 rows of 320 bytes per block: 14 blocks
    try (SafetensorsFile f = SafetensorsFile.open(blocks)) {
      assertEquals(14, f.tensors().size());
      assertEquals(1, f.info("sum.13").dim(0));
    }
    LlamaModel.HessianSum back = ModelQuantizer.readHessian(blocks);
    assertEquals(40, back.n());
    assertEquals(1234, back.tokens());
    assertArrayEquals(h.sum(), back.sum());
    Path one = tmp.resolve("one.safetensors");
    ModelQuantizer.writeHessian(one, h);
    try (SafetensorsFile f = SafetensorsFile.open(one)) {
      assertTrue(f.contains("sum") && f.tensors().size() == 1);
    }
    assertArrayEquals(h.sum(), ModelQuantizer.readHessian(one).sum());
  }

  @Test
  void missingRowBlocksAreRefused() throws Exception {
    Path bad = tmp.resolve("bad.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(bad)) {
      w.addFloats("sum.0", DType.F64, new long[] {2, 4}, new float[8]);
      w.commit();
    }
    ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelQuantizer.readHessian(bad));
    assertTrue(e.getMessage().contains("row blocks end at row 2 of 4"), e.getMessage());
  }
}
