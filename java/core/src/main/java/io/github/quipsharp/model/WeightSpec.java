package io.github.quipsharp.model;

import java.util.ArrayList;
import java.util.List;

/**
 * One weight of a Llama-family model: its Hugging Face name, its role, its layer (-1 for the global
 * ones) and the shape the config implies. {@link #all} lists every weight of a config in file order
 * (embedding, final norm, untied head, then per layer the two norms and the seven linear layers).
 */
public record WeightSpec(String name, Role role, int layer, long[] shape) {
  /** What a weight is; the engine's tensor kinds follow this order. */
  public enum Role {
    EMBED, FINAL_NORM, LM_HEAD, ATTN_NORM, FFN_NORM, WQ, WK, WV, WO, W_GATE, W_UP, W_DOWN;

    /** Norm weights (vectors kept at full precision, set to 1 in a synthetic model). */
    public boolean isNorm() {
      return this == FINAL_NORM || this == ATTN_NORM || this == FFN_NORM;
    }

    /** The linear layers of a block, which quantization replaces. */
    public boolean isLinear() {
      return ordinal() >= WQ.ordinal();
    }
  }

  public WeightSpec {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Every weight of {@code c}, in file order. */
  public static List<WeightSpec> all(LlamaConfig c) {
    List<WeightSpec> out = new ArrayList<>();
    out.add(new WeightSpec("model.embed_tokens.weight", Role.EMBED, -1, new long[] {c.vocabSize(), c.dim()}));
    out.add(new WeightSpec("model.norm.weight", Role.FINAL_NORM, -1, new long[] {c.dim()}));
    if (!c.tiedEmbeddings()) {
      out.add(new WeightSpec("lm_head.weight", Role.LM_HEAD, -1, new long[] {c.vocabSize(), c.dim()}));
    }
    for (int l = 0; l < c.layers(); l++) {
      String p = "model.layers." + l + ".";
      out.add(new WeightSpec(p + "input_layernorm.weight", Role.ATTN_NORM, l, new long[] {c.dim()}));
      out.add(new WeightSpec(p + "post_attention_layernorm.weight", Role.FFN_NORM, l, new long[] {c.dim()}));
      out.add(new WeightSpec(p + "self_attn.q_proj.weight", Role.WQ, l, new long[] {c.qDim(), c.dim()}));
      out.add(new WeightSpec(p + "self_attn.k_proj.weight", Role.WK, l, new long[] {c.kvDim(), c.dim()}));
      out.add(new WeightSpec(p + "self_attn.v_proj.weight", Role.WV, l, new long[] {c.kvDim(), c.dim()}));
      out.add(new WeightSpec(p + "self_attn.o_proj.weight", Role.WO, l, new long[] {c.dim(), c.qDim()}));
      out.add(new WeightSpec(p + "mlp.gate_proj.weight", Role.W_GATE, l, new long[] {c.hiddenDim(), c.dim()}));
      out.add(new WeightSpec(p + "mlp.up_proj.weight", Role.W_UP, l, new long[] {c.hiddenDim(), c.dim()}));
      out.add(new WeightSpec(p + "mlp.down_proj.weight", Role.W_DOWN, l, new long[] {c.dim(), c.hiddenDim()}));
    }
    return out;
  }
}
