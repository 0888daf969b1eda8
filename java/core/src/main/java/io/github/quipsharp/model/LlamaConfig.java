package io.github.quipsharp.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ModelFormatException;
import java.nio.file.Path;
import java.util.Set;

/**
 * The shape and hyper-parameters of a Llama-family model (LlamaForCausalLM, MistralForCausalLM and
 * llama2.c checkpoints).
 *
 * @param architecture the Hugging Face architecture name ("LlamaForCausalLM" for llama2.c files)
 * @param ropeInterleaved true: RoPE rotates adjacent pairs (2i, 2i+1) as llama2.c does; false:
 *     Hugging Face's rotate-half pairs (i, i + headDim/2)
 * @param maxSeqLen the longest context the model was trained for (max_position_embeddings)
 */
public record LlamaConfig(
    String architecture,
    int dim,
    int hiddenDim,
    int layers,
    int heads,
    int kvHeads,
    int headDim,
    int vocabSize,
    int maxSeqLen,
    double ropeTheta,
    double normEps,
    boolean ropeInterleaved,
    boolean tiedEmbeddings,
    int bosId,
    int eosId) {

  /** Architectures whose forward pass the engine implements. */
  public static final Set<String> ARCHITECTURES = Set.of("LlamaForCausalLM", "MistralForCausalLM");

  public LlamaConfig {
    if (dim <= 0 || hiddenDim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0
        || vocabSize <= 0) {
      throw new IllegalArgumentException("model sizes must be positive: " + describe(dim, hiddenDim,
          layers, heads, kvHeads, headDim, vocabSize));
    }
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads = " + heads + " is not a multiple of num_key_value_heads = " + kvHeads);
    }
    if (headDim % 2 != 0) {
      throw new IllegalArgumentException("head_dim = " + headDim + " must be even (RoPE pairs)");
    }
  }

  private static String describe(int dim, int hidden, int layers, int heads, int kv, int hd, int v) {
    return "dim " + dim + ", hidden " + hidden + ", layers " + layers + ", heads " + heads
        + ", kv_heads " + kv + ", head_dim " + hd + ", vocab " + v;
  }

  /** Rows of q_proj (heads × headDim). */
  public int qDim() {
    return heads * headDim;
  }

  /** Rows of k_proj and v_proj (kvHeads × headDim). */
  public int kvDim() {
    return kvHeads * headDim;
  }

  /** Parameters of the weights (embedding, norms, linear layers, untied head). */
  public long parameterCount() {
    long perLayer = 2L * dim + (long) qDim() * dim * 2 + 2L * kvDim() * dim + 3L * hiddenDim * dim;
    return (long) vocabSize * dim * (tiedEmbeddings ? 1 : 2) + dim + layers * perLayer;
  }

  /**
   * Reads a Hugging Face {@code config.json} (LlamaForCausalLM / MistralForCausalLM fields).
   *
   * @throws ModelFormatException for an unknown architecture, a missing or invalid field, or an
   *     unsupported feature (biases, rope scaling, an activation other than SiLU)
   */
  public static LlamaConfig fromHuggingFace(JsonNode json, Path file) {
    if (!json.isObject()) {
      throw new ModelFormatException(file, "config is not a JSON object");
    }
    String arch = json.path("architectures").path(0).asText("");
    if (!ARCHITECTURES.contains(arch)) {
      throw new ModelFormatException(file, "architecture \"" + arch + "\" is not supported (this "
          + "engine runs " + String.join(", ", ARCHITECTURES.stream().sorted().toList()) + ")");
    }
    for (String bias : new String[] {"attention_bias", "mlp_bias"}) {
      if (json.path(bias).asBoolean(false)) {
        throw new ModelFormatException(file, bias + " = true is not supported (Llama has no biases)");
      }
    }
    JsonNode scaling = json.path("rope_scaling");
    if (!scaling.isMissingNode() && !scaling.isNull()) {
      throw new ModelFormatException(file, "rope_scaling " + scaling + " is not supported");
    }
    String act = json.path("hidden_act").asText("silu");
    if (!act.equals("silu")) {
      throw new ModelFormatException(file, "hidden_act = " + act + " is not supported (SwiGLU = silu)");
    }
    int dim = requiredInt(json, "hidden_size", file);
    int heads = requiredInt(json, "num_attention_heads", file);
    int kv = json.has("num_key_value_heads") && !json.get("num_key_value_heads").isNull()
        ? requiredInt(json, "num_key_value_heads", file) : heads;
    int headDim = json.has("head_dim") && !json.get("head_dim").isNull()
        ? requiredInt(json, "head_dim", file) : dim / Math.max(heads, 1);
    try {
      return new LlamaConfig(
          arch,
          dim,
          requiredInt(json, "intermediate_size", file),
          requiredInt(json, "num_hidden_layers", file),
          heads,
          kv,
          headDim,
          requiredInt(json, "vocab_size", file),
          json.path("max_position_embeddings").asInt(2048),
          json.path("rope_theta").asDouble(10000.0),
          json.path("rms_norm_eps").asDouble(1e-6),
          json.path("quipsharp").path("rope_interleaved").asBoolean(false),
          json.path("tie_word_embeddings").asBoolean(false),
          json.path("bos_token_id").asInt(1),
          firstInt(json.path("eos_token_id"), 2));
    } catch (IllegalArgumentException e) {
      throw new ModelFormatException(file, e.getMessage(), e);
    }
  }

  private static int firstInt(JsonNode node, int fallback) {
    if (node.isArray()) {
      return node.path(0).asInt(fallback);
    }
    return node.asInt(fallback);
  }

  private static int requiredInt(JsonNode json, String field, Path file) {
    JsonNode n = json.get(field);
    if (n == null || !n.canConvertToInt() || !n.isIntegralNumber()) {
      throw new ModelFormatException(file, "field \"" + field + "\" is missing or not an integer"
          + (n == null ? "" : " (" + n + ")"));
    }
    return n.asInt();
  }

  /**
   * The Hugging Face {@code config.json} fields of this config ({@link #fromHuggingFace} reads them
   * back; the RoPE convention is kept under {@code quipsharp.rope_interleaved}).
   */
  public ObjectNode toHuggingFace() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.putArray("architectures").add(architecture);
    o.put("model_type", architecture.startsWith("Mistral") ? "mistral" : "llama");
    o.put("hidden_size", dim);
    o.put("intermediate_size", hiddenDim);
    o.put("num_hidden_layers", layers);
    o.put("num_attention_heads", heads);
    o.put("num_key_value_heads", kvHeads);
    o.put("head_dim", headDim);
    o.put("vocab_size", vocabSize);
    o.put("max_position_embeddings", maxSeqLen);
    o.put("rms_norm_eps", normEps);
    o.put("rope_theta", ropeTheta);
    o.putNull("rope_scaling");
    o.put("hidden_act", "silu");
    o.put("attention_bias", false);
    o.put("mlp_bias", false);
    o.put("tie_word_embeddings", tiedEmbeddings);
    o.put("bos_token_id", bosId);
    o.put("eos_token_id", eosId);
    o.putObject("quipsharp").put("rope_interleaved", ropeInterleaved);
    return o;
  }
}
