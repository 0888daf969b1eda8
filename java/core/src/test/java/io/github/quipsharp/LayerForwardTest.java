package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.safetensors.DType;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * stories260K layer by layer ({@link LlamaModel#embed}, then {@link LlamaModel#layerForward} in
 * models that each hold one layer) against the whole-model forward pass: the same Hessian sums, bit
 * for bit, over three windows, for every layer and group.
 */
class LayerForwardTest {
  @Test
  void layerByLayerGivesTheWholeModelsHessians() {
    StoriesFixture f = StoriesFixture.load();
    int ctx = 64;
    int windows = 3;
    try (ModelSource src = ModelSource.open(f.model);
        LlamaModel whole = LlamaModel.fromSource(src, DType.F32)) {
      int layers = whole.config().layers();
      whole.startHessians(0, layers);
      float[][] hidden = new float[windows][];
      try (LlamaModel first = LlamaModel.layerFromSource(src, -1, true, DType.F32)) {
        for (int w = 0; w < windows; w++) {
          int[] window = Arrays.copyOfRange(f.calibration, w * ctx, (w + 1) * ctx);
          whole.forward(window, 0, false);
          hidden[w] = first.embed(window);
        }
      }
      for (int l = 0; l < layers; l++) {
        try (LlamaModel one = LlamaModel.layerFromSource(src, l, false, DType.F32)) {
          int other = (l + 1) % layers;
          float[] h0 = hidden[0];
          IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
              () -> one.layerForward(other, h0));
          assertTrue(e.getMessage().contains("incomplete"), e.getMessage());
          one.startHessians(l, l + 1);
          for (int w = 0; w < windows; w++) {
            hidden[w] = one.layerForward(l, hidden[w]);
          }
          for (LinearGroup g : LinearGroup.values()) {
            HessianSum a = one.hessian(l, g);
            HessianSum b = whole.hessian(l, g);
            assertEquals(b.tokens(), a.tokens());
            assertEquals((long) windows * ctx, a.tokens());
            assertArrayEquals(b.sum(), a.sum(), 0.0, "layer " + l + " " + g.key());
          }
        }
      }
      whole.stopHessians();
      assertThrows(IllegalArgumentException.class, () -> whole.layerForward(0, new float[65]));
      assertThrows(IllegalArgumentException.class,
          () -> LlamaModel.layerFromSource(src, layers, false, DType.F32));
    }
  }
}
