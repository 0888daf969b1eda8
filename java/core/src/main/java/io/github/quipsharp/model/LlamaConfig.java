package io.github.quipsharp.model;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.internal.HuggingFaceConfig;
import io.github.quipsharp.internal.JsonFiles;
import java.nio.file.Path;
import java.util.Set;

/**
 * The shape and hyper-parameters of a model of a supported family ({@link ModelFamily}: Llama 1-3,
 * Mistral, Qwen 2/2.5/3, Gemma 1/2, Phi-3, and llama2.c checkpoints): the Llama block's sizes, RoPE
 * ({@link #rope}) and what the family changes in the block ({@link #options}).
 *
 * @param architecture the Hugging Face architecture name ("LlamaForCausalLM" for llama2.c files)
 * @param ropeInterleaved true: RoPE rotates adjacent pairs (2i, 2i+1) as llama2.c does; false:
 *     Hugging Face's rotate-half pairs (i, i + rotaryDim/2)
 * @param maxSeqLen the longest context the model was trained for (max_position_embeddings)
 * @param ropeTheta the RoPE base (rope_theta, top-level in transformers 4.x, in rope_parameters in 5.x)
 * @param rope the rope_type and its parameters, and the rotary fraction of each head
 * @param options the family's block options (biases, extra norms, activation, windows, soft-caps)
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
    int eosId,
    RopeConfig rope,
    FamilyOptions options) {

  /** Architectures whose forward pass the engine implements. */
  public static final Set<String> ARCHITECTURES = Set.copyOf(ModelFamily.architectures());

  public LlamaConfig {
    if (ModelFamily.ofArchitecture(architecture) == null) {
      throw new IllegalArgumentException("architecture \"" + architecture + "\" is not one of "
          + ModelFamily.architectures());
    }
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
    if (maxSeqLen <= 0) {
      throw new IllegalArgumentException("max_position_embeddings = " + maxSeqLen + " must be positive");
    }
    if (!(ropeTheta > 0) || Double.isInfinite(ropeTheta)) {
      throw new IllegalArgumentException("rope_theta = " + ropeTheta + " must be a positive number");
    }
    if (!(normEps > 0) || Double.isInfinite(normEps)) {
      throw new IllegalArgumentException("rms_norm_eps = " + normEps + " must be a positive number");
    }
    if (rope == null || options == null) {
      throw new IllegalArgumentException("rope and options must not be null");
    }
    int rotary = rope.rotaryDim(headDim);
    if (rotary <= 0 || rotary % 2 != 0) {
      throw new IllegalArgumentException("partial_rotary_factor " + rope.partialRotaryFactor()
          + " gives " + rotary + " rotary dimensions of head_dim " + headDim + "; RoPE needs a positive "
          + "even number");
    }
    if (options.slidingWindow() > 0 && options.slidingLayers().size() != layers) {
      throw new IllegalArgumentException("sliding layers list " + options.slidingLayers().size()
          + " layers for a model of " + layers);
    }
  }

  /**
   * A Llama-architecture config (plain RoPE, no family options): the constructor of the first
   * versions, kept for callers that build Llama shapes (llama2.c files, synthetic models).
   */
  public LlamaConfig(String architecture, int dim, int hiddenDim, int layers, int heads, int kvHeads,
      int headDim, int vocabSize, int maxSeqLen, double ropeTheta, double normEps,
      boolean ropeInterleaved, boolean tiedEmbeddings, int bosId, int eosId) {
    this(architecture, dim, hiddenDim, layers, heads, kvHeads, headDim, vocabSize, maxSeqLen,
        ropeTheta, normEps, ropeInterleaved, tiedEmbeddings, bosId, eosId, RopeConfig.DEFAULT,
        FamilyOptions.LLAMA);
  }

  private static String describe(int dim, int hidden, int layers, int heads, int kv, int hd, int v) {
    return "dim " + dim + ", hidden " + hidden + ", layers " + layers + ", heads " + heads
        + ", kv_heads " + kv + ", head_dim " + hd + ", vocab " + v;
  }

  /** The family of {@link #architecture}. */
  public ModelFamily family() {
    return ModelFamily.ofArchitecture(architecture);
  }

  /**
   * True for the plain Llama block (no family option, plain RoPE over whole heads). The libtorch
   * model and blockwise fine-tuning run every family now; kept for callers that implement only
   * this block.
   */
  public boolean isPlainLlama() {
    return options.equals(FamilyOptions.LLAMA) && rope.equals(RopeConfig.DEFAULT)
        && (family() == ModelFamily.LLAMA || family() == ModelFamily.MISTRAL);
  }

  /**
   * Throws an {@link IllegalArgumentException} naming {@code what} and the architecture unless the
   * config is the {@linkplain #isPlainLlama plain Llama block}: for code paths that implement only
   * that block, which would be silently wrong on another family.
   */
  public void requirePlainLlama(String what) {
    if (!isPlainLlama()) {
      throw new IllegalArgumentException(what + " supports the plain Llama block only (default RoPE, no "
          + "biases, windows or family options); " + architecture + " with rope " + rope.describe()
          + " is not supported yet");
    }
  }

  /** Rows of q_proj (heads × headDim). */
  public int qDim() {
    return heads * headDim;
  }

  /** Rows of k_proj and v_proj (kvHeads × headDim). */
  public int kvDim() {
    return kvHeads * headDim;
  }

  /** Parameters of the weights (embedding, norms, biases, linear layers, untied head). */
  public long parameterCount() {
    long n = 0;
    for (WeightSpec w : WeightSpec.all(this)) {
      long p = 1;
      for (long d : w.shape()) {
        p *= d;
      }
      n += p;
    }
    return n;
  }

  /**
   * Reads a Hugging Face {@code config.json} of a supported family (transformers 4.x or 5.x
   * spelling); keys the engine does not know are named in one warning line on standard error.
   *
   * @throws ModelFormatException for a missing or malformed file, an unknown architecture, a
   *     missing or invalid field, or a key that would change the forward pass in a way the engine
   *     does not implement (named with the file)
   */
  public static LlamaConfig read(Path configFile) {
    return HuggingFaceConfig.read(JsonFiles.read(configFile), configFile);
  }
}
