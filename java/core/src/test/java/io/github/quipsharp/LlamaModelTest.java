package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.testing.SharedModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** stories260K in both layouts against the reference figures of shared/models/README.md. */
class LlamaModelTest {
  static final int[] PROMPT = {1, 403, 407, 261, 378}; // "Once upon a time"
  static final int[] GREEDY_40 = {432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401,
      396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394,
      261, 370, 432, 352, 266, 268, 388, 426};

  static int argmax(float[] v, int off, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
      if (v[off + i] > v[off + best]) {
        best = i;
      }
    }
    return best;
  }

  @Test
  void bothLayoutsLoadWithTheirConfigs() {
    Path bin = SharedModels.require("stories260K/stories260K.bin");
    Path hf = SharedModels.require("stories260K-hf");
    try (LlamaModel a = LlamaModel.load(bin); LlamaModel b = LlamaModel.load(hf)) {
      LlamaConfig ca = a.config();
      LlamaConfig cb = b.config();
      assertEquals(64, ca.dim());
      assertEquals(172, ca.hiddenDim());
      assertEquals(5, ca.layers());
      assertEquals(8, ca.heads());
      assertEquals(4, ca.kvHeads());
      assertEquals(512, ca.vocabSize());
      assertTrue(ca.tiedEmbeddings() && cb.tiedEmbeddings());
      assertTrue(ca.ropeInterleaved());
      assertFalse(cb.ropeInterleaved());
      assertEquals(260_032, ca.parameterCount());
      // fp32 weights read per token; the embedding counts once, as the tied output layer.
      assertEquals(ca.parameterCount() * 4, a.weightBytes());
      assertEquals(cb.parameterCount() * 4, b.weightBytes());
    }
  }

  @Test
  void bothLayoutsGiveTheSameLogits() {
    // 21 tokens of "Once upon a time, there was a little girl named Lily. She loved to play".
    int[] tokens = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426,
        338, 401, 396, 267, 337};
    try (LlamaModel a = LlamaModel.load(SharedModels.require("stories260K/stories260K.bin"));
        LlamaModel b = LlamaModel.load(SharedModels.require("stories260K-hf"))) {
      float[] la = a.forward(tokens, 0, true);
      float[] lb = b.forward(tokens, 0, true);
      double worst = 0;
      for (int i = 0; i < la.length; i++) {
        worst = Math.max(worst, Math.abs(la[i] - lb[i]));
      }
      assertTrue(worst <= 1e-4, "max |Δlogit| = " + worst);
      for (int t = 0; t < tokens.length; t++) {
        assertEquals(argmax(la, t * 512, 512), argmax(lb, t * 512, 512));
      }
    }
  }

  @Test
  void greedyContinuationMatchesTheReference() {
    for (String layout : new String[] {"stories260K/stories260K.bin", "stories260K-hf"}) {
      try (LlamaModel m = LlamaModel.load(SharedModels.require(layout))) {
        Sampler greedy = Sampler.greedy();
        float[] logits = m.forward(PROMPT, 0, false);
        int[] out = new int[40];
        for (int i = 0; i < 40; i++) {
          out[i] = greedy.sample(logits);
          logits = m.forward(new int[] {out[i]}, PROMPT.length + i, false);
        }
        assertArrayEquals(GREEDY_40, out, layout);
      }
    }
  }
}
