package io.github.quipsharp.internal;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.WeightSpec;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;

/**
 * One transformer block while blockwise fine-tuning quantizes it (QUIPSHARP.md §6.2): its RMSNorm
 * weights (the two of every family, and Qwen 3's q/k norms or Gemma 2's post-attention and
 * post-FFN norms where the family has them, as the file stores them: Gemma's raw w of 1 + w), its
 * biases (fixed), the dense stacked weight of each group not yet quantized and the stored parts of
 * each group already quantized. A {@link BlockTuner} reads and replaces these between the groups;
 * {@link ModelQuantizer} quantizes the next group from what the tuner left.
 */
public final class LayerState {
  private final int layer;
  private final LlamaConfig config;
  /** The norm and bias weights of this layer, in {@link WeightSpec#all} order. */
  private final List<WeightSpec> vectors = new ArrayList<>();
  private final EnumMap<WeightSpec.Role, float[]> norms = new EnumMap<>(WeightSpec.Role.class);
  private final EnumMap<WeightSpec.Role, float[]> biases = new EnumMap<>(WeightSpec.Role.class);
  private final EnumMap<LinearGroup, float[]> dense = new EnumMap<>(LinearGroup.class);
  private final EnumMap<LinearGroup, QuantizedGroup> quantized = new EnumMap<>(LinearGroup.class);

  private LayerState(int layer, LlamaConfig config) {
    this.layer = layer;
    this.config = config;
    for (WeightSpec s : WeightSpec.all(config)) {
      if (s.layer() == layer && (s.role().isNorm() || s.role().isBias())) {
        vectors.add(s);
      }
    }
  }

  /** The block's fp weights as the model file holds them (members stacked per group). */
  public static LayerState fromSource(ModelSource src, int layer) {
    LayerState s = new LayerState(layer, src.config());
    String p = "model.layers." + layer + ".";
    for (WeightSpec v : s.vectors) {
      (v.role().isNorm() ? s.norms : s.biases).put(v.role(), src.tensor(v.name()).toFloats());
    }
    for (LinearGroup g : LinearGroup.values()) {
      float[] w = new float[Checks.product(g.rows(s.config), g.cols(s.config), "group weight")];
      int off = 0;
      for (String m : g.members()) {
        float[] part = src.tensor(p + m + ".weight").toFloats();
        System.arraycopy(part, 0, w, off, part.length);
        off += part.length;
      }
      s.dense.put(g, w);
    }
    return s;
  }

  public int layer() {
    return layer;
  }

  public LlamaConfig config() {
    return config;
  }

  public float[] attnNorm() {
    return norm(WeightSpec.Role.ATTN_NORM);
  }

  public float[] ffnNorm() {
    return norm(WeightSpec.Role.FFN_NORM);
  }

  public void setNorms(float[] attn, float[] ffn) {
    Checks.length(attn.length, config.dim(), "attn norm", "dim");
    Checks.length(ffn.length, config.dim(), "ffn norm", "dim");
    Checks.finite(attn, "attn norm");
    Checks.finite(ffn, "ffn norm");
    norms.put(WeightSpec.Role.ATTN_NORM, attn.clone());
    norms.put(WeightSpec.Role.FFN_NORM, ffn.clone());
  }

  /**
   * The norm and bias weights of this layer (names, roles and shapes), in file order: what
   * {@link #norm} and {@link #bias} hold.
   */
  public List<WeightSpec> vectorSpecs() {
    return List.copyOf(vectors);
  }

  private WeightSpec spec(WeightSpec.Role role) {
    for (WeightSpec s : vectors) {
      if (s.role() == role) {
        return s;
      }
    }
    throw new IllegalArgumentException("layer " + layer + " of " + config.architecture()
        + " has no " + role + " weight");
  }

  /** A copy of a norm weight of this layer (raw w for Gemma's 1 + w norms). */
  public float[] norm(WeightSpec.Role role) {
    if (!role.isNorm()) {
      throw new IllegalArgumentException(role + " is not a norm");
    }
    spec(role);
    return norms.get(role).clone();
  }

  /** Replaces a norm weight of this layer (tuned). */
  public void setNorm(WeightSpec.Role role, float[] w) {
    if (!role.isNorm()) {
      throw new IllegalArgumentException(role + " is not a norm");
    }
    WeightSpec s = spec(role);
    Checks.length(w.length, s.shape()[0], s.name(), "its length");
    Checks.finite(w, s.name());
    norms.put(role, w.clone());
  }

  /** A copy of a bias of this layer (biases stay fixed during tuning). */
  public float[] bias(WeightSpec.Role role) {
    if (!role.isBias()) {
      throw new IllegalArgumentException(role + " is not a bias");
    }
    spec(role);
    return biases.get(role).clone();
  }

  public boolean isQuantized(LinearGroup g) {
    return quantized.containsKey(g);
  }

  /** The stacked rows×cols weight of a group not yet quantized (a copy). */
  public float[] denseWeight(LinearGroup g) {
    float[] w = dense.get(g);
    if (w == null) {
      throw new IllegalStateException("layer " + layer + " " + g.key() + " is already quantized");
    }
    return w.clone();
  }

  public void setDenseWeight(LinearGroup g, float[] w) {
    if (!dense.containsKey(g)) {
      throw new IllegalStateException("layer " + layer + " " + g.key() + " is already quantized");
    }
    Checks.length(w.length, (long) g.rows(config) * g.cols(config), "weight", "rows x cols");
    Checks.finite(w, "weight of " + g.key());
    dense.put(g, w.clone());
  }

  /** The stored parts of a quantized group. */
  public QuantizedGroup quantized(LinearGroup g) {
    QuantizedGroup q = quantized.get(g);
    if (q == null) {
      throw new IllegalStateException("layer " + layer + " " + g.key() + " is not quantized yet");
    }
    return q;
  }

  /** Replaces the sign vectors of a quantized group (the codes stay). */
  public void setSigns(LinearGroup g, float[] su, float[] sv) {
    Checks.finite(su, "SU of " + g.key());
    Checks.finite(sv, "SV of " + g.key());
    quantized.put(g, quantized(g).withSigns(su.clone(), sv.clone()));
  }

  public void setQuantized(LinearGroup g, QuantizedGroup q) {
    dense.remove(g);
    quantized.put(g, q);
  }
}
