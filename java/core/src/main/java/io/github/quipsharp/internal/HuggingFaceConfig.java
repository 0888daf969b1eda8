package io.github.quipsharp.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.model.FamilyOptions;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelFamily;
import io.github.quipsharp.model.RopeConfig;
import io.github.quipsharp.safetensors.HalfFloat;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Reads a Hugging Face {@code config.json} of a supported family as transformers 5 interprets it:
 * both RoPE spellings (transformers 5's {@code rope_parameters}, 4.x's top-level {@code rope_theta} +
 * {@code rope_scaling}), the family's defaults for absent keys (those of transformers' config
 * classes), and the rule that every key that changes the forward pass is implemented or refused by
 * name. Keys it does not know end up in one warning line; known metadata (ids, dtype, versions,
 * training-only dropout) is silent.
 */
public final class HuggingFaceConfig {
  /** Keys that never change the forward pass of an inference engine. */
  private static final Set<String> METADATA = Set.of(
      "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "use_cache",
      "initializer_range", "pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id",
      "decoder_start_token_id", "attention_dropout", "_name_or_path", "tokenizer_class",
      "output_attentions", "output_hidden_states", "return_dict", "use_return_dict", "torchscript",
      "id2label", "label2id", "problem_type", "chunk_size_feed_forward", "is_encoder_decoder",
      "is_decoder", "add_cross_attention", "tie_encoder_decoder", "cross_attention_hidden_size",
      "prefix", "task_specific_params", "finetuning_task", "tf_legacy_loss", "pruned_heads",
      "cache_implementation", "_attn_implementation_autoset",
      // this project's and the QuIP# reference's checkpoint sections (read by QuantizedCheckpoint)
      "quipsharp", "quip_params");
  private static final Set<String> LAYER_TYPES = Set.of("full_attention", "sliding_attention");

  private final JsonNode json;
  private final Path file;
  private final Set<String> used = new HashSet<>();
  private final List<String> warnings = new ArrayList<>();

  private HuggingFaceConfig(JsonNode json, Path file) {
    this.json = json;
    this.file = file;
  }

  /** {@link #read(JsonNode, Path, Consumer)} with the warning line (if any) on standard error. */
  public static LlamaConfig read(JsonNode json, Path file) {
    return read(json, file, System.err::println);
  }

  /**
   * The Hugging Face {@code config.json} fields of {@code c}, in the transformers 4.x spelling
   * (top-level rope_theta and rope_scaling; {@link #read} reads them back; the RoPE convention is
   * kept under {@code quipsharp.rope_interleaved}, and Gemma's embedding scale under {@code
   * quipsharp.embed_scale}, since it depends on the source model's dtype, which a checkpoint's
   * {@code torch_dtype} no longer says).
   */
  public static ObjectNode toJson(LlamaConfig c) {
    ObjectNode o = write(c);
    ObjectNode qs = o.putObject("quipsharp");
    qs.put("rope_interleaved", c.ropeInterleaved());
    if (c.options().embedScale() > 0) {
      qs.put("embed_scale", c.options().embedScale());
    }
    return o;
  }

  /** Parses {@code json} (read from {@code file}); warnings go to {@code warn} as one line. */
  public static LlamaConfig read(JsonNode json, Path file, Consumer<String> warn) {
    if (!json.isObject()) {
      throw new ModelFormatException(file, "config is not a JSON object");
    }
    HuggingFaceConfig r = new HuggingFaceConfig(json, file);
    LlamaConfig c = r.parse();
    Set<String> unknown = new TreeSet<>();
    for (Iterator<String> it = json.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!r.used.contains(k) && !METADATA.contains(k)) {
        unknown.add(k);
      }
    }
    if (!unknown.isEmpty()) {
      r.warnings.add(0, (unknown.size() == 1 ? "key " : "keys ") + String.join(", ", unknown)
          + (unknown.size() == 1 ? " is" : " are") + " unknown to this engine's "
          + c.architecture() + " and ignored");
    }
    if (!r.warnings.isEmpty()) {
      warn.accept("warning: " + file + ": " + String.join("; ", r.warnings));
    }
    return c;
  }

  private LlamaConfig parse() {
    JsonNode archs = json.path("architectures");
    String arch = archs.path(0).asText("");
    ModelFamily family = ModelFamily.ofArchitecture(arch);
    if (family == null) {
      throw new ModelFormatException(file, "architecture \"" + arch + "\" is not supported (this "
          + "engine runs " + String.join(", ", ModelFamily.architectures()) + ")");
    }
    JsonNode modelType = json.get("model_type");
    if (modelType != null && !modelType.isNull() && !modelType.asText().equals(family.modelType())) {
      throw new ModelFormatException(file, "model_type \"" + modelType.asText() + "\" does not match "
          + "architecture " + arch + " (model_type \"" + family.modelType() + "\")");
    }
    if (present("quantization_config")) {
      throw new ModelFormatException(file, "quantization_config " + json.get("quantization_config")
          + ": models quantized by other methods are not supported (load the fp model or a QuIP# "
          + "checkpoint)");
    }
    int dim = requiredInt("hidden_size");
    int heads = requiredInt("num_attention_heads");
    int kvHeads = optionalInt("num_key_value_heads", switch (family) {
      case MISTRAL -> 8;
      case QWEN2, QWEN3 -> 32;
      case GEMMA -> 16;
      case GEMMA2 -> 4;
      default -> heads;
    }, heads);
    int headDim = optionalInt("head_dim", switch (family) {
      case GEMMA, GEMMA2 -> 256;
      case QWEN3 -> 128;
      default -> dim / Math.max(heads, 1);
    }, dim / Math.max(heads, 1));
    int hidden = requiredInt("intermediate_size");
    int layers = requiredInt("num_hidden_layers");
    int vocab = requiredInt("vocab_size");
    int maxPositions = optionalInt("max_position_embeddings", switch (family) {
      case LLAMA -> 2048;
      case MISTRAL -> 131072;
      case QWEN2, QWEN3 -> 32768;
      case GEMMA, GEMMA2 -> 8192;
      case PHI3 -> 4096;
    }, -1);
    if (maxPositions <= 0) {
      throw new ModelFormatException(file, "max_position_embeddings = " + json.get("max_position_embeddings")
          + " must be a positive integer (the model's context length)");
    }
    double eps = number("rms_norm_eps", family == ModelFamily.PHI3 ? 1e-5 : 1e-6);
    if (!(eps > 0)) {
      throw new ModelFormatException(file, "rms_norm_eps = " + eps + " must be positive");
    }
    boolean tied = flag("tie_word_embeddings", family.isGemma());
    used.add("bos_token_id");
    used.add("eos_token_id");
    boolean interleaved = json.path("quipsharp").path("rope_interleaved").asBoolean(false);
    double theta = ropeTheta();
    RopeConfig rope = rope(family, maxPositions);
    if (rope.partialRotaryFactor() != 1.0 && family != ModelFamily.PHI3) {
      throw new ModelFormatException(file, "partial_rotary_factor = " + rope.partialRotaryFactor()
          + " is not supported for " + arch + " (transformers' " + arch + " rotates whole heads)");
    }
    if (rope.rotaryDim(headDim) % 2 != 0 || rope.rotaryDim(headDim) <= 0) {
      throw new ModelFormatException(file, "partial_rotary_factor = " + rope.partialRotaryFactor()
          + " gives " + rope.rotaryDim(headDim) + " rotary dimensions of head_dim " + headDim
          + "; RoPE needs a positive even number");
    }
    FamilyOptions options = options(family, dim, layers);
    try {
      return new LlamaConfig(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, maxPositions,
          theta, eps, interleaved, tied, json.path("bos_token_id").asInt(1),
          firstInt(json.path("eos_token_id"), 2), rope, options);
    } catch (IllegalArgumentException e) {
      throw new ModelFormatException(file, e.getMessage(), e);
    }
  }

  // ---- the family's block options -------------------------------------------------------------

  private FamilyOptions options(ModelFamily family, int dim, int layers) {
    boolean gemma = family.isGemma();
    FamilyOptions.Activation act = activation(family);
    boolean attentionBias = switch (family) {
      case LLAMA, QWEN3, GEMMA, GEMMA2 -> flag("attention_bias", false);
      default -> false;
    };
    boolean mlpBias = family == ModelFamily.LLAMA && flag("mlp_bias", false);
    if (family == ModelFamily.LLAMA) {
      used.add("pretraining_tp"); // transformers 5 ignores it (the same product, split or not)
    }
    if (family == ModelFamily.PHI3) {
      used.add("resid_pdrop"); // dropout: training only
      used.add("embd_pdrop");
      used.add("original_max_position_embeddings"); // longrope's, read by rope() where used
    }
    if (gemma && flag("use_bidirectional_attention", false)) {
      throw new ModelFormatException(file, "use_bidirectional_attention = true is not supported "
          + "(the engine attends causally)");
    }
    double embedScale = gemma ? embedScale(dim) : 0;
    double queryScalar = 0;
    double attnCap = 0;
    double finalCap = 0;
    if (family == ModelFamily.GEMMA2) {
      queryScalar = number("query_pre_attn_scalar", 256);
      if (!(queryScalar > 0)) {
        throw new ModelFormatException(file, "query_pre_attn_scalar = " + queryScalar + " must be positive");
      }
      attnCap = softcap("attn_logit_softcapping", 50.0);
      finalCap = softcap("final_logit_softcapping", 30.0);
    }
    int window = 0;
    List<Boolean> sliding = new ArrayList<>();
    switch (family) {
      case MISTRAL, PHI3 -> {
        window = windowValue(family == ModelFamily.MISTRAL ? 4096 : 0);
        for (int l = 0; l < layers; l++) {
          sliding.add(window > 0);
        }
      }
      case QWEN2, QWEN3 -> {
        // transformers: sliding_window = None unless use_sliding_window; then the layers from
        // max_window_layers on slide, unless layer_types says which.
        boolean use = flag("use_sliding_window", false);
        int w = windowValue(4096);
        int maxWindowLayers = optionalInt("max_window_layers", 28, 28);
        window = use ? w : 0;
        sliding = layerTypes(layers, l -> l >= maxWindowLayers);
      }
      case GEMMA2 -> {
        window = windowValue(4096);
        sliding = layerTypes(layers, l -> l % 2 == 0); // transformers' default: layers 0, 2, ... slide
      }
      default -> { }
    }
    if (window == 0) {
      sliding.clear();
    }
    return new FamilyOptions(act,
        family == ModelFamily.QWEN2 || attentionBias, attentionBias, mlpBias,
        family == ModelFamily.QWEN3, family == ModelFamily.GEMMA2, gemma,
        embedScale, queryScalar, attnCap, finalCap, window, sliding);
  }

  private FamilyOptions.Activation activation(ModelFamily family) {
    // transformers 5 runs Gemma 2 with hidden_activation and every other family with hidden_act.
    String key = family == ModelFamily.GEMMA2 ? "hidden_activation" : "hidden_act";
    String other = family == ModelFamily.GEMMA2 ? "hidden_act" : "hidden_activation";
    String fallback = family.isGemma() ? "gelu_pytorch_tanh" : "silu";
    String name = string(key, fallback);
    FamilyOptions.Activation act = FamilyOptions.Activation.ofJson(name);
    if (act == null) {
      throw new ModelFormatException(file, key + " = \"" + name + "\" is not supported (implemented: "
          + "silu, gelu_pytorch_tanh, gelu_new, gelu)");
    }
    if (family.isGemma() && present(other)) {
      used.add(other);
      if (!json.get(other).asText().equals(name)) {
        warnings.add(other + " = " + json.get(other) + " is ignored: transformers 5 runs "
            + family.architecture() + " with " + key + " = \"" + name + "\"");
      }
    }
    return act;
  }

  /**
   * sqrt(hidden) as transformers multiplies Gemma's embeddings: a float32 tensor cast to the model's
   * dtype; a checkpoint written by {@link LlamaConfig#toHuggingFace} states it as
   * quipsharp.embed_scale.
   */
  private double embedScale(int dim) {
    JsonNode stated = json.path("quipsharp").path("embed_scale");
    if (stated.isNumber() && stated.asDouble() > 0 && Double.isFinite(stated.asDouble())) {
      return stated.asDouble();
    }
    float scale = (float) Math.sqrt(dim);
    String dtype = json.hasNonNull("dtype") ? json.get("dtype").asText()
        : json.path("torch_dtype").asText("float32");
    return switch (dtype) {
      case "bfloat16" -> HalfFloat.bf16ToFloat(HalfFloat.bf16FromFloat(scale));
      case "float16" -> HalfFloat.toFloat(HalfFloat.fromFloat(scale));
      case "float32", "auto" -> scale;
      default -> throw new ModelFormatException(file, "dtype \"" + dtype + "\" is not float32, "
          + "float16 or bfloat16 (Gemma's embedding scale is rounded to it)");
    };
  }

  /** A soft-cap: absent = the family default, null = none, else a positive number. */
  private double softcap(String key, double fallback) {
    if (!json.has(key)) {
      return fallback;
    }
    used.add(key);
    if (json.get(key).isNull()) {
      return 0;
    }
    double v = number(key, 0);
    if (!(v > 0)) {
      throw new ModelFormatException(file, key + " = " + v + " must be positive (or null for none)");
    }
    return v;
  }

  /** sliding_window: absent = the family default, null = none, else a positive integer. */
  private int windowValue(int fallback) {
    if (!json.has("sliding_window")) {
      return fallback;
    }
    used.add("sliding_window");
    JsonNode n = json.get("sliding_window");
    if (n.isNull()) {
      return 0;
    }
    if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() <= 0) {
      throw new ModelFormatException(file, "sliding_window = " + n + " must be a positive integer or null");
    }
    return n.asInt();
  }

  /** layer_types when present (validated), else the family's rule. */
  private List<Boolean> layerTypes(int layers, java.util.function.IntPredicate rule) {
    List<Boolean> out = new ArrayList<>();
    if (!present("layer_types")) {
      used.add("layer_types");
      for (int l = 0; l < layers; l++) {
        out.add(rule.test(l));
      }
      return out;
    }
    used.add("layer_types");
    JsonNode types = json.get("layer_types");
    if (!types.isArray() || types.size() != layers) {
      throw new ModelFormatException(file, "layer_types must list one type per layer (" + layers
          + "), not " + types);
    }
    for (JsonNode t : types) {
      if (!LAYER_TYPES.contains(t.asText())) {
        throw new ModelFormatException(file, "layer_types entry " + t + " is not supported (the engine "
            + "runs full_attention and sliding_attention)");
      }
      out.add(t.asText().equals("sliding_attention"));
    }
    return out;
  }

  // ---- RoPE -----------------------------------------------------------------------------------

  /** rope_theta: in the RoPE dict (transformers 5; wins, as transformers lets it), else top-level. */
  private double ropeTheta() {
    JsonNode dict = ropeDict();
    double top = number("rope_theta", 10000.0);
    double theta = top;
    if (dict.has("rope_theta")) {
      theta = dictNumber(dict, "rope_theta", top);
      if (json.has("rope_theta") && theta != top) {
        warnings.add("rope_theta = " + top + " is ignored: " + ropeKey() + ".rope_theta = " + theta
            + " applies (as in transformers)");
      }
    }
    if (!(theta > 0) || Double.isInfinite(theta)) {
      throw new ModelFormatException(file, "rope_theta = " + theta + " must be a positive number");
    }
    return theta;
  }

  private String ropeKey() {
    return isSet(json.get("rope_scaling")) ? "rope_scaling" : "rope_parameters";
  }

  /** The RoPE dict (rope_scaling wins over rope_parameters, as in transformers); {} when neither. */
  private JsonNode ropeDict() {
    used.add("rope_scaling");
    used.add("rope_parameters");
    JsonNode scaling = json.get("rope_scaling");
    JsonNode params = json.get("rope_parameters");
    if (isSet(scaling) && isSet(params) && !scaling.equals(params)) {
      throw new ModelFormatException(file, "rope_scaling " + scaling + " and rope_parameters " + params
          + " disagree; keep one");
    }
    JsonNode dict = isSet(scaling) ? scaling : isSet(params) ? params : JsonNodeFactory.instance.objectNode();
    if (!dict.isObject()) {
      throw new ModelFormatException(file, ropeKey() + " = " + dict + " is not a JSON object");
    }
    // transformers 5 may hold one dict per layer type (Gemma 3 style); the engine has one RoPE.
    boolean perLayerType = dict.size() > 0;
    for (Iterator<String> it = dict.fieldNames(); it.hasNext(); ) {
      perLayerType &= LAYER_TYPES.contains(it.next());
    }
    if (perLayerType) {
      JsonNode first = null;
      for (JsonNode d : dict) {
        if (first != null && !first.equals(d)) {
          throw new ModelFormatException(file, ropeKey() + " differs per layer type (" + dict
              + "): one RoPE for every layer is supported");
        }
        first = d;
      }
      dict = first;
    }
    return dict;
  }

  private RopeConfig rope(ModelFamily family, int maxPositions) {
    JsonNode d = ropeDict();
    String key = ropeKey();
    String typeName = d.hasNonNull("rope_type") ? d.get("rope_type").asText()
        : d.hasNonNull("type") ? d.get("type").asText() : "default";
    if (family == ModelFamily.PHI3 && !typeName.equals("default")) {
      // transformers' Phi3Config maps "su" and "yarn" to longrope and allows nothing else.
      String mapped = typeName.equals("su") || typeName.equals("yarn") ? "longrope" : typeName;
      throw new ModelFormatException(file, key + ".rope_type \"" + typeName + "\"" + (mapped.equals(typeName)
          ? "" : " (longrope for Phi-3, as transformers maps it)") + " is not supported for "
          + family.architecture() + " (this engine implements default RoPE for it)");
    }
    RopeConfig.Type type = RopeConfig.Type.ofJson(typeName);
    if (type == null) {
      throw new ModelFormatException(file, key + ".rope_type \"" + typeName + "\" is not supported (this "
          + "engine implements default, linear, llama3, yarn)");
    }
    double topPartial = number("partial_rotary_factor", 1.0);
    double partial = d.has("partial_rotary_factor") ? dictNumber(d, "partial_rotary_factor", topPartial)
        : topPartial;
    if (json.hasNonNull("partial_rotary_factor") && partial != topPartial) {
      warnings.add("partial_rotary_factor = " + topPartial + " is ignored: " + key
          + ".partial_rotary_factor = " + partial + " applies (as in transformers)");
    }
    if (!(partial > 0 && partial <= 1)) {
      throw new ModelFormatException(file, "partial_rotary_factor = " + partial + " must be in (0, 1]");
    }
    Set<String> known = new HashSet<>(Set.of("rope_type", "type", "rope_theta", "partial_rotary_factor"));
    double factor = 1;
    double low = 0;
    double high = 0;
    int original = 0;
    double attention = 0;
    double betaFast = 0;
    double betaSlow = 0;
    double mscale = 0;
    double mscaleAll = 0;
    boolean truncate = true;
    if (type != RopeConfig.Type.DEFAULT) {
      known.add("factor");
      original = originalContext(d, maxPositions);
      if (type == RopeConfig.Type.YARN && !d.hasNonNull("factor")) {
        factor = (double) maxPositions / original; // transformers' fallback for a missing factor
      } else {
        factor = requiredDictNumber(d, "factor", key);
      }
      if (!(factor > 0)) {
        throw new ModelFormatException(file, key + ".factor = " + factor + " must be positive");
      }
    }
    if (type == RopeConfig.Type.LLAMA3) {
      known.addAll(Set.of("low_freq_factor", "high_freq_factor", "original_max_position_embeddings"));
      low = requiredDictNumber(d, "low_freq_factor", key);
      high = requiredDictNumber(d, "high_freq_factor", key);
      if (!(low > 0 && high > low)) {
        throw new ModelFormatException(file, key + ": llama3 needs 0 < low_freq_factor (" + low
            + ") < high_freq_factor (" + high + ")");
      }
    }
    if (type == RopeConfig.Type.YARN) {
      known.addAll(Set.of("original_max_position_embeddings", "attention_factor", "beta_fast",
          "beta_slow", "mscale", "mscale_all_dim", "truncate"));
      attention = d.hasNonNull("attention_factor") ? dictNumber(d, "attention_factor", 0) : 0;
      if (d.hasNonNull("attention_factor") && !(attention > 0)) {
        throw new ModelFormatException(file, key + ".attention_factor = " + attention + " must be positive");
      }
      betaFast = nonNegative(d, "beta_fast", key);
      betaSlow = nonNegative(d, "beta_slow", key);
      mscale = nonNegative(d, "mscale", key);
      mscaleAll = nonNegative(d, "mscale_all_dim", key);
      if (d.hasNonNull("truncate")) {
        if (!d.get("truncate").isBoolean()) {
          throw new ModelFormatException(file, key + ".truncate = " + d.get("truncate") + " is not a boolean");
        }
        truncate = d.get("truncate").asBoolean();
      }
    }
    List<String> ignored = new ArrayList<>();
    for (Iterator<String> it = d.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!known.contains(k)) {
        ignored.add(k);
      }
    }
    if (!ignored.isEmpty()) {
      warnings.add(key + " " + String.join(", ", ignored) + " ignored (rope_type " + typeName
          + " does not use " + (ignored.size() == 1 ? "it" : "them") + ")");
    }
    try {
      return new RopeConfig(type, factor, low, high, original, attention, betaFast, betaSlow, mscale,
          mscaleAll, truncate, partial);
    } catch (IllegalArgumentException e) {
      throw new ModelFormatException(file, key + ": " + e.getMessage(), e);
    }
  }

  /** original_max_position_embeddings of llama3/yarn: in the dict, else the context (transformers). */
  private int originalContext(JsonNode d, int maxPositions) {
    JsonNode n = d.get("original_max_position_embeddings");
    if (n == null || n.isNull()) {
      return maxPositions;
    }
    if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() <= 0) {
      throw new ModelFormatException(file, ropeKey() + ".original_max_position_embeddings = " + n
          + " must be a positive integer");
    }
    return n.asInt();
  }

  private double requiredDictNumber(JsonNode d, String k, String key) {
    if (!d.hasNonNull(k)) {
      throw new ModelFormatException(file, key + "." + k + " is missing (rope_type "
          + d.path("rope_type").asText(d.path("type").asText()) + " needs it)");
    }
    return dictNumber(d, k, 0);
  }

  private double nonNegative(JsonNode d, String k, String key) {
    double v = d.hasNonNull(k) ? dictNumber(d, k, 0) : 0;
    if (v < 0) {
      throw new ModelFormatException(file, key + "." + k + " = " + v + " must be >= 0");
    }
    return v;
  }

  private double dictNumber(JsonNode d, String k, double fallback) {
    JsonNode n = d.get(k);
    if (n == null || n.isNull()) {
      return fallback;
    }
    if (!n.isNumber() || !Double.isFinite(n.asDouble())) {
      throw new ModelFormatException(file, ropeKey() + "." + k + " = " + n + " is not a number");
    }
    return n.asDouble();
  }

  // ---- typed access (marks keys as used) --------------------------------------------------------

  private static boolean isSet(JsonNode n) {
    return n != null && !n.isNull() && !(n.isObject() && n.isEmpty());
  }

  private boolean present(String key) {
    return json.hasNonNull(key);
  }

  private int requiredInt(String key) {
    used.add(key);
    JsonNode n = json.get(key);
    if (n == null || !n.canConvertToInt() || !n.isIntegralNumber()) {
      throw new ModelFormatException(file, "field \"" + key + "\" is missing or not an integer"
          + (n == null ? "" : " (" + n + ")"));
    }
    return n.asInt();
  }

  /** An integer key: {@code absent} when missing, {@code ifNull} when null. */
  private int optionalInt(String key, int absent, int ifNull) {
    used.add(key);
    JsonNode n = json.get(key);
    if (n == null) {
      return absent;
    }
    if (n.isNull()) {
      return ifNull;
    }
    if (!n.canConvertToInt() || !n.isIntegralNumber()) {
      throw new ModelFormatException(file, key + " = " + n + " is not an integer");
    }
    return n.asInt();
  }

  private double number(String key, double fallback) {
    used.add(key);
    JsonNode n = json.get(key);
    if (n == null || n.isNull()) {
      return fallback;
    }
    if (!n.isNumber() || !Double.isFinite(n.asDouble())) {
      throw new ModelFormatException(file, key + " = " + n + " is not a number");
    }
    return n.asDouble();
  }

  private boolean flag(String key, boolean fallback) {
    used.add(key);
    JsonNode n = json.get(key);
    if (n == null || n.isNull()) {
      return fallback;
    }
    if (!n.isBoolean()) {
      throw new ModelFormatException(file, key + " = " + n + " is not a boolean");
    }
    return n.asBoolean();
  }

  private String string(String key, String fallback) {
    used.add(key);
    JsonNode n = json.get(key);
    if (n == null || n.isNull()) {
      return fallback;
    }
    if (!n.isTextual()) {
      throw new ModelFormatException(file, key + " = " + n + " is not a string");
    }
    return n.asText();
  }

  private static int firstInt(JsonNode node, int fallback) {
    if (node.isArray()) {
      return node.path(0).asInt(fallback);
    }
    return node.asInt(fallback);
  }

  // ---- writing --------------------------------------------------------------------------------

  /** The config.json fields of {@code c} in the transformers 4.x spelling (read back by {@link #read}). */
  public static ObjectNode write(LlamaConfig c) {
    ModelFamily family = c.family();
    FamilyOptions o = c.options();
    RopeConfig r = c.rope();
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.putArray("architectures").add(c.architecture());
    n.put("model_type", family.modelType());
    n.put("hidden_size", c.dim());
    n.put("intermediate_size", c.hiddenDim());
    n.put("num_hidden_layers", c.layers());
    n.put("num_attention_heads", c.heads());
    n.put("num_key_value_heads", c.kvHeads());
    n.put("head_dim", c.headDim());
    n.put("vocab_size", c.vocabSize());
    n.put("max_position_embeddings", c.maxSeqLen());
    n.put("rms_norm_eps", c.normEps());
    n.put("rope_theta", c.ropeTheta());
    if (r.type() == RopeConfig.Type.DEFAULT) {
      n.putNull("rope_scaling");
    } else {
      ObjectNode s = n.putObject("rope_scaling");
      s.put("rope_type", r.type().jsonName());
      s.put("factor", r.factor());
      if (r.type() == RopeConfig.Type.LLAMA3) {
        s.put("low_freq_factor", r.lowFreqFactor());
        s.put("high_freq_factor", r.highFreqFactor());
      }
      if (r.type() != RopeConfig.Type.LINEAR) {
        s.put("original_max_position_embeddings", r.originalMaxPositions());
      }
      if (r.type() == RopeConfig.Type.YARN) {
        putPositive(s, "attention_factor", r.attentionFactor());
        putPositive(s, "beta_fast", r.betaFast());
        putPositive(s, "beta_slow", r.betaSlow());
        putPositive(s, "mscale", r.mscale());
        putPositive(s, "mscale_all_dim", r.mscaleAllDim());
        s.put("truncate", r.truncate());
      }
    }
    if (family == ModelFamily.PHI3) {
      n.put("partial_rotary_factor", r.partialRotaryFactor());
    }
    n.put(family == ModelFamily.GEMMA2 ? "hidden_activation" : "hidden_act", o.activation().jsonName());
    switch (family) {
      case LLAMA -> {
        n.put("attention_bias", o.outputBias());
        n.put("mlp_bias", o.mlpBias());
      }
      case QWEN3, GEMMA, GEMMA2 -> n.put("attention_bias", o.outputBias());
      default -> { }
    }
    switch (family) {
      case MISTRAL, PHI3 -> putWindow(n, o.slidingWindow());
      case QWEN2, QWEN3 -> {
        n.put("use_sliding_window", o.slidingWindow() > 0);
        putWindow(n, o.slidingWindow());
        putLayerTypes(n, c);
      }
      case GEMMA2 -> {
        putWindow(n, o.slidingWindow());
        putLayerTypes(n, c);
        // transformers' Gemma2Config types it int (and refuses 256.0); fractional values stay exact.
        double scalar = o.queryPreAttnScalar();
        if (scalar == Math.rint(scalar) && scalar < Integer.MAX_VALUE) {
          n.put("query_pre_attn_scalar", (int) scalar);
        } else {
          n.put("query_pre_attn_scalar", scalar);
        }
        putCap(n, "attn_logit_softcapping", o.attentionSoftcap());
        putCap(n, "final_logit_softcapping", o.finalSoftcap());
      }
      default -> { }
    }
    n.put("tie_word_embeddings", c.tiedEmbeddings());
    n.put("bos_token_id", c.bosId());
    n.put("eos_token_id", c.eosId());
    return n;
  }

  private static void putPositive(ObjectNode n, String key, double v) {
    if (v > 0) {
      n.put(key, v);
    }
  }

  private static void putWindow(ObjectNode n, int window) {
    if (window > 0) {
      n.put("sliding_window", window);
    } else {
      n.putNull("sliding_window");
    }
  }

  private static void putCap(ObjectNode n, String key, double cap) {
    if (cap > 0) {
      n.put(key, cap);
    } else {
      n.putNull(key);
    }
  }

  private static void putLayerTypes(ObjectNode n, LlamaConfig c) {
    var types = n.putArray("layer_types");
    for (int l = 0; l < c.layers(); l++) {
      types.add(c.options().windowOf(l) > 0 ? "sliding_attention" : "full_attention");
    }
  }
}
