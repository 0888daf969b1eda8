package io.github.quipsharp.model;

import java.util.Arrays;
import java.util.List;

/**
 * The Hugging Face architectures the engine runs. Each is the Llama block with options (see {@link
 * FamilyOptions}), as transformers 5 defines the family.
 */
public enum ModelFamily {
  /** Llama 1-3.x (and llama2.c files); optional attention_bias / mlp_bias. */
  LLAMA("LlamaForCausalLM", "llama"),
  /** Llama with a sliding window on every layer. */
  MISTRAL("MistralForCausalLM", "mistral"),
  /** Qwen 2 / 2.5: q, k and v biases; windows from max_window_layers on when use_sliding_window. */
  QWEN2("Qwen2ForCausalLM", "qwen2"),
  /** Qwen 3: per-head RMSNorm of q and k before RoPE; optional attention_bias. */
  QWEN3("Qwen3ForCausalLM", "qwen3"),
  /** Gemma: GeGLU (tanh GELU), RMSNorm by (1 + w), embeddings times sqrt(hidden). */
  GEMMA("GemmaForCausalLM", "gemma"),
  /** Gemma 2: Gemma plus sandwich norms, soft-capping and windows on alternate layers. */
  GEMMA2("Gemma2ForCausalLM", "gemma2"),
  /** Phi-3: fused qkv_proj and gate_up_proj tensors, partial rotary dimensions. */
  PHI3("Phi3ForCausalLM", "phi3");

  private final String architecture;
  private final String modelType;

  ModelFamily(String architecture, String modelType) {
    this.architecture = architecture;
    this.modelType = modelType;
  }

  /** The {@code architectures[0]} name of config.json, e.g. "Qwen2ForCausalLM". */
  public String architecture() {
    return architecture;
  }

  /** The {@code model_type} of config.json, e.g. "qwen2". */
  public String modelType() {
    return modelType;
  }

  /** Every supported architecture name, in declaration order. */
  public static List<String> architectures() {
    return Arrays.stream(values()).map(ModelFamily::architecture).toList();
  }

  /** The family of an architecture name, or null when it is not supported. */
  public static ModelFamily ofArchitecture(String architecture) {
    for (ModelFamily f : values()) {
      if (f.architecture.equals(architecture)) {
        return f;
      }
    }
    return null;
  }

  /** Gemma 1 or 2 (the (1 + w) norms and scaled embeddings). */
  public boolean isGemma() {
    return this == GEMMA || this == GEMMA2;
  }
}
