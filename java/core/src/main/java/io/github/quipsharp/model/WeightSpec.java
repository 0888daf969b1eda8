package io.github.quipsharp.model;

import java.util.ArrayList;
import java.util.List;

/**
 * One weight of a model: its Hugging Face name, its role, its layer (-1 for the global ones) and the
 * shape the config implies. {@link #all} lists every weight of a config (embedding, final norm,
 * untied head, then per layer the two norms, the seven linear layers and the family's biases and
 * extra norms). The linear layers always carry the Llama names ({@code self_attn.q_proj.weight} ...);
 * a family that stores some of them fused (Phi-3) lists the fused file tensors in {@link #fused}, and
 * the model source serves each part under its Llama name.
 */
public record WeightSpec(String name, Role role, int layer, long[] shape) {
  /** What a weight is; the engine's tensor kinds (QS_TENSOR_*) follow this order. */
  public enum Role {
    EMBED, FINAL_NORM, LM_HEAD, ATTN_NORM, FFN_NORM, WQ, WK, WV, WO, W_GATE, W_UP, W_DOWN,
    /** Biases of the seven linear layers (q, k, v: Qwen 2 and attention_bias; o; gate, up, down: mlp_bias). */
    BQ, BK, BV, BO, B_GATE, B_UP, B_DOWN,
    /** Qwen 3's per-head RMSNorm weights of q and k, [head_dim]. */
    Q_NORM, K_NORM,
    /** Gemma 2's norms of the attention output and of the FFN output. */
    POST_ATTN_NORM, POST_FFN_NORM;

    /** Norm weights (vectors kept at full precision, set to 1 in a synthetic model). */
    public boolean isNorm() {
      return this == FINAL_NORM || this == ATTN_NORM || this == FFN_NORM || this == Q_NORM
          || this == K_NORM || this == POST_ATTN_NORM || this == POST_FFN_NORM;
    }

    /** Biases (vectors added to a linear layer's output; kept at full precision). */
    public boolean isBias() {
      return ordinal() >= BQ.ordinal() && ordinal() <= B_DOWN.ordinal();
    }

    /** The linear layers of a block, which quantization replaces. */
    public boolean isLinear() {
      return ordinal() >= WQ.ordinal() && ordinal() <= W_DOWN.ordinal();
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
    FamilyOptions o = c.options();
    boolean gemma2 = c.family() == ModelFamily.GEMMA2;
    for (int l = 0; l < c.layers(); l++) {
      String p = "model.layers." + l + ".";
      out.add(new WeightSpec(p + "input_layernorm.weight", Role.ATTN_NORM, l, new long[] {c.dim()}));
      // Gemma 2's post_attention_layernorm normalizes the attention output; its FFN input norm is
      // pre_feedforward_layernorm. Elsewhere post_attention_layernorm is the FFN input norm.
      out.add(new WeightSpec(p + (gemma2 ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"),
          Role.FFN_NORM, l, new long[] {c.dim()}));
      out.add(new WeightSpec(p + "self_attn.q_proj.weight", Role.WQ, l, new long[] {c.qDim(), c.dim()}));
      out.add(new WeightSpec(p + "self_attn.k_proj.weight", Role.WK, l, new long[] {c.kvDim(), c.dim()}));
      out.add(new WeightSpec(p + "self_attn.v_proj.weight", Role.WV, l, new long[] {c.kvDim(), c.dim()}));
      out.add(new WeightSpec(p + "self_attn.o_proj.weight", Role.WO, l, new long[] {c.dim(), c.qDim()}));
      out.add(new WeightSpec(p + "mlp.gate_proj.weight", Role.W_GATE, l, new long[] {c.hiddenDim(), c.dim()}));
      out.add(new WeightSpec(p + "mlp.up_proj.weight", Role.W_UP, l, new long[] {c.hiddenDim(), c.dim()}));
      out.add(new WeightSpec(p + "mlp.down_proj.weight", Role.W_DOWN, l, new long[] {c.dim(), c.hiddenDim()}));
      if (o.qkvBias()) {
        out.add(new WeightSpec(p + "self_attn.q_proj.bias", Role.BQ, l, new long[] {c.qDim()}));
        out.add(new WeightSpec(p + "self_attn.k_proj.bias", Role.BK, l, new long[] {c.kvDim()}));
        out.add(new WeightSpec(p + "self_attn.v_proj.bias", Role.BV, l, new long[] {c.kvDim()}));
      }
      if (o.outputBias()) {
        out.add(new WeightSpec(p + "self_attn.o_proj.bias", Role.BO, l, new long[] {c.dim()}));
      }
      if (o.mlpBias()) {
        out.add(new WeightSpec(p + "mlp.gate_proj.bias", Role.B_GATE, l, new long[] {c.hiddenDim()}));
        out.add(new WeightSpec(p + "mlp.up_proj.bias", Role.B_UP, l, new long[] {c.hiddenDim()}));
        out.add(new WeightSpec(p + "mlp.down_proj.bias", Role.B_DOWN, l, new long[] {c.dim()}));
      }
      if (o.qkNorm()) {
        out.add(new WeightSpec(p + "self_attn.q_norm.weight", Role.Q_NORM, l, new long[] {c.headDim()}));
        out.add(new WeightSpec(p + "self_attn.k_norm.weight", Role.K_NORM, l, new long[] {c.headDim()}));
      }
      if (o.sandwichNorms()) {
        out.add(new WeightSpec(p + "post_attention_layernorm.weight", Role.POST_ATTN_NORM, l, new long[] {c.dim()}));
        out.add(new WeightSpec(p + "post_feedforward_layernorm.weight", Role.POST_FFN_NORM, l, new long[] {c.dim()}));
      }
    }
    return out;
  }

  /**
   * A tensor of the file that holds several linear layers stacked by rows (Phi-3's
   * {@code qkv_proj}: q, k, v; {@code gate_up_proj}: gate first, then up, as transformers' Phi3MLP
   * chunks it).
   *
   * @param name the file's tensor name
   * @param shape its shape
   * @param parts the Llama names it holds, in row order
   * @param rows the rows of each part
   */
  public record FusedTensor(String name, long[] shape, List<String> parts, long[] rows) {
    public FusedTensor {
      shape = shape.clone();
      parts = List.copyOf(parts);
      rows = rows.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    @Override
    public long[] rows() {
      return rows.clone();
    }
  }

  /** The fused tensors of {@code c}'s files (empty except for Phi-3). */
  public static List<FusedTensor> fused(LlamaConfig c) {
    List<FusedTensor> out = new ArrayList<>();
    if (c.family() != ModelFamily.PHI3) {
      return out;
    }
    for (int l = 0; l < c.layers(); l++) {
      String p = "model.layers." + l + ".";
      out.add(new FusedTensor(p + "self_attn.qkv_proj.weight",
          new long[] {c.qDim() + 2L * c.kvDim(), c.dim()},
          List.of(p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"),
          new long[] {c.qDim(), c.kvDim(), c.kvDim()}));
      out.add(new FusedTensor(p + "mlp.gate_up_proj.weight", new long[] {2L * c.hiddenDim(), c.dim()},
          List.of(p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"),
          new long[] {c.hiddenDim(), c.hiddenDim()}));
    }
    return out;
  }
}
