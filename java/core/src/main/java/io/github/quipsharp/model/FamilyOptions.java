package io.github.quipsharp.model;

import java.util.List;

/**
 * What a model family changes in the Llama block (all defaults = Llama). {@link LlamaConfig#options}
 * holds them; the engine takes them one to one (qs_model_config's family fields and per-layer
 * windows).
 *
 * @param activation the FFN gate's activation: {@code down(act(gate x) * up x)}
 * @param qkvBias q_proj, k_proj and v_proj have biases (Qwen 2; attention_bias)
 * @param outputBias o_proj has a bias (attention_bias of Llama, Qwen 3, Gemma)
 * @param mlpBias gate_proj, up_proj and down_proj have biases (Llama's mlp_bias)
 * @param qkNorm per-head RMSNorm of q and k before RoPE, weights [head_dim] (Qwen 3)
 * @param sandwichNorms RMSNorm of the attention and FFN outputs before the residual adds (Gemma 2)
 * @param normUnitOffset RMSNorm multiplies by (1 + w) (Gemma)
 * @param embedScale the embeddings are multiplied by it; 0 = not at all (Gemma: sqrt(hidden) rounded
 *     to the model's dtype, as transformers casts it)
 * @param queryPreAttnScalar the attention scores are scaled by its inverse square root instead of
 *     head_dim's (Gemma 2); 0 = head_dim
 * @param attentionSoftcap scores become c tanh(s / c) (Gemma 2's attn_logit_softcapping); 0 = none
 * @param finalSoftcap the logits likewise (final_logit_softcapping); 0 = none
 * @param slidingWindow the window of the layers that {@code slidingLayers} marks; 0 = none
 * @param slidingLayers for each layer, whether it attends within the window (empty when there is no
 *     window)
 */
public record FamilyOptions(
    Activation activation,
    boolean qkvBias,
    boolean outputBias,
    boolean mlpBias,
    boolean qkNorm,
    boolean sandwichNorms,
    boolean normUnitOffset,
    double embedScale,
    double queryPreAttnScalar,
    double attentionSoftcap,
    double finalSoftcap,
    int slidingWindow,
    List<Boolean> slidingLayers) {

  /** The Llama block. */
  public static final FamilyOptions LLAMA =
      new FamilyOptions(Activation.SILU, false, false, false, false, false, false, 0, 0, 0, 0, 0, List.of());

  /** FFN gate activations (the engine's QS_ACTIVATION_* in this order). */
  public enum Activation {
    SILU("silu"), GELU_TANH("gelu_pytorch_tanh"), GELU("gelu");

    private final String jsonName;

    Activation(String jsonName) {
      this.jsonName = jsonName;
    }

    /** The hidden_act string of config.json. */
    public String jsonName() {
      return jsonName;
    }

    /**
     * The activation that transformers' ACT2FN maps {@code name} to ("swish" is SiLU, "gelu_new" the
     * same tanh formula as "gelu_pytorch_tanh"), or null when the engine lacks it (relu, gelu_fast,
     * ...).
     */
    public static Activation ofJson(String name) {
      return switch (name) {
        case "silu", "swish" -> SILU;
        case "gelu_pytorch_tanh", "gelu_new" -> GELU_TANH;
        case "gelu" -> GELU;
        default -> null;
      };
    }
  }

  public FamilyOptions {
    if (activation == null) {
      throw new IllegalArgumentException("activation must not be null");
    }
    for (double v : new double[] {embedScale, queryPreAttnScalar, attentionSoftcap, finalSoftcap}) {
      if (!Double.isFinite(v) || v < 0) {
        throw new IllegalArgumentException("embed scale, query_pre_attn_scalar and soft-caps must be "
            + "finite and >= 0: " + v);
      }
    }
    if (slidingWindow < 0) {
      throw new IllegalArgumentException("sliding_window = " + slidingWindow + " must be >= 0");
    }
    slidingLayers = List.copyOf(slidingLayers);
    if (slidingWindow == 0 && slidingLayers.contains(true)) {
      throw new IllegalArgumentException("sliding layers without a sliding_window");
    }
  }

  /**
   * A one-line description for {@code inspect}, e.g. "GeGLU (gelu_pytorch_tanh), (1 + w) norms,
   * embeddings x 5.65625, sliding window 8 on layers [0, 2]".
   */
  public String describe() {
    List<String> parts = new java.util.ArrayList<>();
    parts.add((activation == Activation.SILU ? "SwiGLU" : "GeGLU") + " (" + activation.jsonName() + ")");
    if (qkvBias) {
      parts.add("q/k/v biases");
    }
    if (outputBias) {
      parts.add("o bias");
    }
    if (mlpBias) {
      parts.add("MLP biases");
    }
    if (qkNorm) {
      parts.add("q/k norms per head");
    }
    if (normUnitOffset) {
      parts.add("(1 + w) norms");
    }
    if (sandwichNorms) {
      parts.add("post-attention and pre/post-FFN norms");
    }
    if (embedScale > 0) {
      parts.add("embeddings x " + (float) embedScale);
    }
    if (queryPreAttnScalar > 0) {
      parts.add("attention scale 1/sqrt(" + queryPreAttnScalar + ")");
    }
    if (attentionSoftcap > 0) {
      parts.add("attention soft-cap " + attentionSoftcap);
    }
    if (finalSoftcap > 0) {
      parts.add("final soft-cap " + finalSoftcap);
    }
    if (slidingWindow > 0) {
      List<Integer> layers = new java.util.ArrayList<>();
      for (int l = 0; l < slidingLayers.size(); l++) {
        if (slidingLayers.get(l)) {
          layers.add(l);
        }
      }
      parts.add("sliding window " + slidingWindow + (layers.size() == slidingLayers.size()
          ? " on every layer" : " on layers " + layers));
    } else {
      parts.add("full attention");
    }
    return String.join(", ", parts);
  }

  /** The attention window of {@code layer}: slidingWindow where the layer slides, else 0 (none). */
  public int windowOf(int layer) {
    return slidingWindow > 0 && layer < slidingLayers.size() && slidingLayers.get(layer) ? slidingWindow : 0;
  }

  /** The score scale of the attention: 1/sqrt(queryPreAttnScalar), or 1/sqrt(headDim). */
  public double attentionScale(int headDim) {
    return 1.0 / Math.sqrt(queryPreAttnScalar > 0 ? queryPreAttnScalar : headDim);
  }
}
