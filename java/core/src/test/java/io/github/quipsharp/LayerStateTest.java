package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.LayerState;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.WeightSpec.Role;
import io.github.quipsharp.model.WeightSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Blockwise tuning's layer state holds every norm and bias of the family by its WeightSpec role. */
class LayerStateTest {
  static List<Role> roles(LayerState s) {
    return s.vectorSpecs().stream().map(WeightSpec::role).toList();
  }

  @Test
  void gemma2HoldsItsFourNormsUnderTheirFileNames() {
    try (ModelSource src = ModelSource.open(FamilyFixturesTest.fixture("gemma2"))) {
      LayerState s = LayerState.fromSource(src, 1);
      assertEquals(List.of(Role.ATTN_NORM, Role.FFN_NORM, Role.POST_ATTN_NORM, Role.POST_FFN_NORM), roles(s));
      // Gemma 2's FFN input norm is pre_feedforward_layernorm; post_attention_layernorm is the
      // attention output's norm.
      assertArrayEquals(src.tensor("model.layers.1.pre_feedforward_layernorm.weight").toFloats(), s.ffnNorm());
      assertArrayEquals(src.tensor("model.layers.1.post_attention_layernorm.weight").toFloats(),
          s.norm(Role.POST_ATTN_NORM));
      float[] w = new float[src.config().dim()];
      w[3] = 0.5f;
      s.setNorm(Role.POST_FFN_NORM, w);
      assertArrayEquals(w, s.norm(Role.POST_FFN_NORM));

      IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
          () -> s.setNorm(Role.Q_NORM, new float[16]));
      assertEquals("layer 1 of Gemma2ForCausalLM has no Q_NORM weight", none.getMessage());
      IllegalArgumentException length = assertThrows(IllegalArgumentException.class,
          () -> s.setNorm(Role.POST_ATTN_NORM, new float[5]));
      assertTrue(length.getMessage().startsWith("model.layers.1.post_attention_layernorm.weight.length = 5"),
          length.getMessage());
      float[] nan = new float[src.config().dim()];
      nan[0] = Float.NaN;
      assertThrows(IllegalArgumentException.class, () -> s.setNorm(Role.FFN_NORM, nan));
      assertThrows(IllegalArgumentException.class, () -> s.norm(Role.BQ), "a bias is not a norm");
    }
  }

  @Test
  void qwen3HoldsItsQkNormsAndQwen2ItsBiases() {
    try (ModelSource src = ModelSource.open(FamilyFixturesTest.fixture("qwen3"))) {
      LayerState s = LayerState.fromSource(src, 0);
      assertEquals(List.of(Role.ATTN_NORM, Role.FFN_NORM, Role.Q_NORM, Role.K_NORM), roles(s));
      assertArrayEquals(src.tensor("model.layers.0.self_attn.k_norm.weight").toFloats(), s.norm(Role.K_NORM));
    }
    try (ModelSource src = ModelSource.open(FamilyFixturesTest.fixture("qwen2"))) {
      LayerState s = LayerState.fromSource(src, 1);
      assertEquals(List.of(Role.ATTN_NORM, Role.FFN_NORM, Role.BQ, Role.BK, Role.BV), roles(s));
      assertArrayEquals(src.tensor("model.layers.1.self_attn.v_proj.bias").toFloats(), s.bias(Role.BV));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.bias(Role.BO));
      assertEquals("layer 1 of Qwen2ForCausalLM has no BO weight", e.getMessage());
    }
  }
}
