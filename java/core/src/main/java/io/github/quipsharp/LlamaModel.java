package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.internal.NativeCalls;
import io.github.quipsharp.model.FamilyOptions;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.RopeConfig;
import io.github.quipsharp.model.Tensor;
import io.github.quipsharp.model.WeightSpec;
import io.github.quipsharp.safetensors.DType;
import java.nio.file.Path;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A model of a supported family ({@link io.github.quipsharp.model.ModelFamily}) held by the native
 * engine (weights in native memory, never in Java arrays): fp32/fp16 weights, or QuIP#-quantized
 * linear groups. Runs the forward pass (prefill of a window or one token at a time over the KV
 * cache) and collects Hessians of the linear layers' inputs.
 *
 * <p>Owns native memory: close it. One forward pass runs at a time (calls from several threads are
 * serialized).
 */
public final class LlamaModel implements AutoCloseable {
  private final LlamaConfig config;
  private final QuipsharpNative.qs_model handle;
  private final CloseGuard guard;
  private QuantizationInfo quantization;
  private Path source;

  private LlamaModel(LlamaConfig config) {
    NativeCalls.ensureLoaded();
    this.config = config;
    try (QuipsharpNative.qs_model_config c = new QuipsharpNative.qs_model_config()) {
      c.dim(config.dim());
      c.hidden_dim(config.hiddenDim());
      c.n_layers(config.layers());
      c.n_heads(config.heads());
      c.n_kv_heads(config.kvHeads());
      c.head_dim(config.headDim());
      c.vocab_size(config.vocabSize());
      c.rope_interleaved(config.ropeInterleaved() ? 1 : 0);
      c.tied_embeddings(config.tiedEmbeddings() ? 1 : 0);
      c.rope_theta(config.ropeTheta());
      c.norm_eps(config.normEps());
      setFamilyFields(c, config);
      QuipsharpNative.qs_model m = new QuipsharpNative.qs_model();
      NativeCalls.check(QuipsharpNative.qs_model_create(c, m), "LlamaModel");
      this.handle = m;
      try {
        for (int l = 0; l < config.layers(); l++) {
          NativeCalls.check(QuipsharpNative.qs_model_set_attention_window(m, l, config.options().windowOf(l)),
              "LlamaModel window of layer " + l);
        }
      } catch (RuntimeException e) {
        QuipsharpNative.qs_model_free(m);
        throw e;
      }
    }
    this.guard = new CloseGuard("LlamaModel");
  }

  /**
   * RoPE's table for a config, as the engine derives it (transformers' modeling_rope_utils for the
   * rope_type): the inverse frequency of each of the rotaryDim / 2 pairs, and the factor that
   * multiplies cos and sin (YaRN's attention factor; 1 otherwise). For other forward passes (the
   * libtorch model) that must rotate exactly as the engine does.
   */
  public static RopeTable ropeTable(LlamaConfig config) {
    Checks.notNull(config, "config");
    NativeCalls.ensureLoaded();
    try (QuipsharpNative.qs_model_config c = new QuipsharpNative.qs_model_config()) {
      c.head_dim(config.headDim());
      c.rope_theta(config.ropeTheta());
      setFamilyFields(c, config);
      double[] inv = new double[config.rope().rotaryDim(config.headDim()) / 2];
      double[] scaling = new double[1];
      NativeCalls.check(QuipsharpNative.qs_rope_frequencies(c, inv, scaling), "ropeTable");
      return new RopeTable(inv, scaling[0]);
    }
  }

  /** See {@link #ropeTable}. */
  public record RopeTable(double[] inverseFrequencies, double attentionScaling) {
    public RopeTable {
      inverseFrequencies = inverseFrequencies.clone();
    }

    @Override
    public double[] inverseFrequencies() {
      return inverseFrequencies.clone();
    }
  }

  /** The family fields of the engine's config (all zero for the plain Llama block). */
  private static void setFamilyFields(QuipsharpNative.qs_model_config c, LlamaConfig config) {
    FamilyOptions o = config.options();
    RopeConfig r = config.rope();
    c.activation(o.activation().ordinal());
    c.norm_unit_offset(o.normUnitOffset() ? 1 : 0);
    c.qk_norm(o.qkNorm() ? 1 : 0);
    c.sandwich_norms(o.sandwichNorms() ? 1 : 0);
    int rotary = r.rotaryDim(config.headDim());
    c.rotary_dim(rotary == config.headDim() ? 0 : rotary);
    c.rope_type(r.type().ordinal());
    c.rope_factor(r.type() == RopeConfig.Type.DEFAULT ? 0 : r.factor());
    c.rope_low_freq_factor(r.lowFreqFactor());
    c.rope_high_freq_factor(r.highFreqFactor());
    c.rope_original_max_positions(r.originalMaxPositions());
    c.rope_attention_factor(r.attentionFactor());
    c.rope_beta_fast(r.betaFast());
    c.rope_beta_slow(r.betaSlow());
    c.rope_mscale(r.mscale());
    c.rope_mscale_all_dim(r.mscaleAllDim());
    c.rope_no_truncate(r.truncate() ? 0 : 1);
    c.embed_scale(o.embedScale());
    c.attn_scale(o.queryPreAttnScalar() > 0 ? o.attentionScale(config.headDim()) : 0);
    c.attn_softcap(o.attentionSoftcap());
    c.final_softcap(o.finalSoftcap());
  }

  /**
   * Loads a model: a Hugging Face folder, a llama2.c {@code .bin} (or a folder with one), or a
   * quantized checkpoint folder written by {@link ModelQuantizer}. Weights keep their precision
   * (fp32 stays fp32; fp16 stays fp16; bf16 becomes fp32).
   *
   * @throws ModelFormatException for missing, truncated or corrupt files, an unknown architecture or
   *     a config that disagrees with the tensors
   */
  public static LlamaModel load(Path path) {
    return load(path, LoadOptions.DEFAULT);
  }

  /**
   * {@link #load(Path)}; a quantized checkpoint's tensors and config fields are checked against the
   * digests its config.json records unless {@code options} say not to ({@link LoadOptions}).
   *
   * @throws ModelFormatException also naming the tensor or config field that differs from its digest
   */
  public static LlamaModel load(Path path, LoadOptions options) {
    Checks.notNull(path, "path");
    Checks.notNull(options, "options");
    if (QuantizedCheckpoint.isCheckpoint(path)) {
      return QuantizedCheckpoint.load(path, options);
    }
    try (ModelSource src = ModelSource.open(path)) {
      LlamaModel m = fromSource(src, null);
      m.source = path;
      return m;
    }
  }

  /**
   * The fp model of {@code src} with every weight stored as {@code store} (F32 or F16; null keeps
   * the file's precision, with bf16 stored as F32).
   */
  public static LlamaModel fromSource(ModelSource src, DType store) {
    return fromSource(src, store, w -> true);
  }

  /** The weights of {@code src} that {@code which} accepts; the others stay unset. */
  private static LlamaModel fromSource(ModelSource src, DType store,
      java.util.function.Predicate<WeightSpec> which) {
    LlamaModel m = new LlamaModel(src.config());
    try {
      for (WeightSpec w : WeightSpec.all(src.config())) {
        if (which.test(w)) {
          m.setTensor(src.tensor(w.name()), w.role(), Math.max(w.layer(), 0), store);
        }
      }
      m.source = src.path();
      return m;
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  /**
   * Part of the fp model of {@code src} for a layer-by-layer pass: the embedding when {@code
   * embedding}, and layer {@code layer}'s weights when {@code layer >= 0}; every other tensor stays
   * unset, so the model takes one layer's memory. Runs {@link #embed} and {@link #layerForward}
   * only.
   */
  public static LlamaModel layerFromSource(ModelSource src, int layer, boolean embedding, DType store) {
    Checks.notNull(src, "src");
    if (layer < -1 || layer >= src.config().layers()) {
      throw new IllegalArgumentException("layer = " + layer + " must be in [-1, "
          + src.config().layers() + ")");
    }
    return fromSource(src, store,
        w -> (embedding && w.role() == WeightSpec.Role.EMBED) || (layer >= 0 && w.layer() == layer));
  }

  /** An empty model of this config (tensors set by the checkpoint reader). */
  static LlamaModel empty(LlamaConfig config) {
    return new LlamaModel(config);
  }

  static int nativeDtype(DType d) {
    return switch (d) {
      case F32 -> QuipsharpNative.QS_DTYPE_F32;
      case F16 -> QuipsharpNative.QS_DTYPE_F16;
      case BF16 -> QuipsharpNative.QS_DTYPE_BF16;
      default -> throw new IllegalArgumentException("dtype " + d + " is not a weight dtype");
    };
  }

  /** The engine's tensor kind of a role (QS_TENSOR_*, in the same order). */
  static int nativeKind(WeightSpec.Role role) {
    return switch (role) {
      case EMBED -> QuipsharpNative.QS_TENSOR_EMBED;
      case FINAL_NORM -> QuipsharpNative.QS_TENSOR_FINAL_NORM;
      case LM_HEAD -> QuipsharpNative.QS_TENSOR_LM_HEAD;
      case ATTN_NORM -> QuipsharpNative.QS_TENSOR_ATTN_NORM;
      case FFN_NORM -> QuipsharpNative.QS_TENSOR_FFN_NORM;
      case WQ -> QuipsharpNative.QS_TENSOR_WQ;
      case WK -> QuipsharpNative.QS_TENSOR_WK;
      case WV -> QuipsharpNative.QS_TENSOR_WV;
      case WO -> QuipsharpNative.QS_TENSOR_WO;
      case W_GATE -> QuipsharpNative.QS_TENSOR_W_GATE;
      case W_UP -> QuipsharpNative.QS_TENSOR_W_UP;
      case W_DOWN -> QuipsharpNative.QS_TENSOR_W_DOWN;
      case BQ -> QuipsharpNative.QS_TENSOR_BQ;
      case BK -> QuipsharpNative.QS_TENSOR_BK;
      case BV -> QuipsharpNative.QS_TENSOR_BV;
      case BO -> QuipsharpNative.QS_TENSOR_BO;
      case B_GATE -> QuipsharpNative.QS_TENSOR_B_GATE;
      case B_UP -> QuipsharpNative.QS_TENSOR_B_UP;
      case B_DOWN -> QuipsharpNative.QS_TENSOR_B_DOWN;
      case Q_NORM -> QuipsharpNative.QS_TENSOR_Q_NORM;
      case K_NORM -> QuipsharpNative.QS_TENSOR_K_NORM;
      case POST_ATTN_NORM -> QuipsharpNative.QS_TENSOR_POST_ATTN_NORM;
      case POST_FFN_NORM -> QuipsharpNative.QS_TENSOR_POST_FFN_NORM;
    };
  }

  /** Copies a mapped tensor into the engine (converted in native code, no Java copy). */
  void setTensor(Tensor t, WeightSpec.Role role, int layer, DType store) {
    int kind = nativeKind(role);
    DType keep = store != null ? store : (t.dtype() == DType.F16 ? DType.F16 : DType.F32);
    guard.read(() -> {
      try (BytePointer data = new BytePointer(t.data())) {
        NativeCalls.check(
            QuipsharpNative.qs_model_set_tensor(handle, kind, layer, nativeDtype(t.dtype()), data,
                t.elementCount(), nativeDtype(keep)),
            "tensor " + t.name() + (source != null ? " of " + source : ""));
      }
      return null;
    });
  }

  /** Replaces a group's dense weights with a quantized matrix and its per-member fuse scales. */
  void setQuantized(int layer, LinearGroup group, QuantizedLinear q, float[] fuseScales) {
    guard.read(() -> q.withDescription(desc -> {
      try (FloatPointer fuse = new FloatPointer(fuseScales)) {
        NativeCalls.check(
            QuipsharpNative.qs_model_set_quantized(handle, layer, group.ordinal(), desc, fuse,
                fuseScales.length),
            "layer " + layer + " " + group.key());
      }
      return null;
    }));
  }

  void setQuantization(QuantizationInfo info) {
    this.quantization = info;
  }

  public LlamaConfig config() {
    return config;
  }

  /** How the model was quantized, or null for an fp model. */
  public QuantizationInfo quantization() {
    return quantization;
  }

  /** The file or folder it was loaded from (null if built in memory). */
  public Path source() {
    return source;
  }

  /**
   * Runs {@code tokens} at positions startPos, startPos+1, ... (startPos = 0 starts a new sequence;
   * otherwise the KV cache must hold the positions before it from earlier calls) and returns the
   * logits: tokens.length × vocab when {@code allLogits}, else the last token's vocab values.
   *
   * @throws NonFiniteActivationException (not located: {@link NonFiniteActivationException#layer()}
   *     is {@link NonFiniteActivationException#UNLOCATED}) when the engine meets an activation that
   *     is not finite; the logits themselves are returned as computed
   */
  public float[] forward(int[] tokens, int startPos, boolean allLogits) {
    Checks.notNull(tokens, "tokens");
    Checks.positive(tokens.length, "tokens.length");
    int size = Checks.product(allLogits ? tokens.length : 1, config.vocabSize(), "logits");
    return guard.read(() -> {
      float[] logits = new float[size];
      int status = QuipsharpNative.qs_model_forward(handle, tokens, tokens.length, startPos, logits,
          allLogits ? 1 : 0);
      if (status == QuipsharpNative.QS_ERR_NON_FINITE) {
        // The input is token ids: a non-finite value inside can only come from the weights.
        throw new NonFiniteActivationException("LlamaModel.forward: "
            + QuipsharpNative.qs_last_error().getString(), NonFiniteActivationException.UNLOCATED);
      }
      NativeCalls.check(status, "LlamaModel.forward");
      return logits;
    });
  }

  /** The embedding rows of {@code tokens}: tokens.length × dim hidden states. */
  public float[] embed(int[] tokens) {
    Checks.notNull(tokens, "tokens");
    Checks.positive(tokens.length, "tokens.length");
    int size = Checks.product(tokens.length, config.dim(), "hidden states");
    return guard.read(() -> {
      float[] hidden = new float[size];
      NativeCalls.check(QuipsharpNative.qs_model_embed(handle, tokens, tokens.length, hidden),
          "LlamaModel.embed");
      return hidden;
    });
  }

  /**
   * Block {@code layer} applied to the hidden states of one sequence (count × dim, positions 0 ..
   * count-1, causal attention within it): the same values, bit for bit, as that block inside
   * {@link #forward} from position 0, and the same Hessian accumulation. Needs only that layer's
   * weights; afterwards the next {@link #forward} must start at position 0.
   */
  public float[] layerForward(int layer, float[] hidden) {
    Checks.notNull(hidden, "hidden");
    Checks.multipleOf(hidden.length, config.dim(), "hidden", "dim = " + config.dim());
    int count = hidden.length / config.dim();
    return guard.read(() -> {
      float[] out = new float[hidden.length];
      NativeCalls.check(QuipsharpNative.qs_model_layer_forward(handle, layer, hidden, count, out),
          "layer " + layer + " forward");
      return out;
    });
  }

  /** Starts accumulating Hessians of layers [begin, end) on every following forward pass. */
  void startHessians(int layerBegin, int layerEnd) {
    guard.read(() -> {
      NativeCalls.check(QuipsharpNative.qs_model_hessian_start(handle, layerBegin, layerEnd),
          "startHessians");
      return null;
    });
  }

  /** Σ x xᵀ (n×n, row-major) of one group's inputs since {@link #startHessians}, and the count. */
  HessianSum hessian(int layer, LinearGroup group) {
    return guard.read(() -> {
      int n = groupCols(group);
      double[] out = new double[Checks.product(n, n, "hessian")];
      long[] count = new long[1];
      NativeCalls.check(QuipsharpNative.qs_model_hessian_read(handle, layer, group.ordinal(), out, count),
          "hessian of layer " + layer + " " + group.key());
      return new HessianSum(n, out, count[0]);
    });
  }

  /** Stops collecting and frees the accumulators. */
  void stopHessians() {
    guard.read(() -> {
      NativeCalls.check(QuipsharpNative.qs_model_hessian_stop(handle), "stopHessians");
      return null;
    });
  }

  /** Input width of a group: dim, heads×headDim, dim, hidden. */
  public int groupCols(LinearGroup group) {
    return group.cols(config);
  }

  /** Rows of a group's stacked matrix. */
  public int groupRows(LinearGroup group) {
    return group.rows(config);
  }

  /** Bytes of weights a forward pass reads (excluding the embedding rows it looks up). */
  public long weightBytes() {
    return guard.read(() -> QuipsharpNative.qs_model_weight_bytes(handle));
  }

  /**
   * Of {@link #weightBytes}, the bytes of the output layer (lm_head, or the embedding when tied),
   * which stays fp16 in a quantized checkpoint.
   */
  public long headBytes() {
    return guard.read(() -> QuipsharpNative.qs_model_head_bytes(handle));
  }

  public boolean isClosed() {
    return guard.isClosed();
  }

  @Override
  public void close() {
    guard.close(() -> QuipsharpNative.qs_model_free(handle));
  }

}
