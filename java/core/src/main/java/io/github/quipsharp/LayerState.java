package io.github.quipsharp;

import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import java.util.EnumMap;

/**
 * One transformer block while blockwise fine-tuning quantizes it (QUIPSHARP.md §6.2): its two
 * RMSNorm weights, the dense stacked weight of each group not yet quantized and the stored parts
 * of each group already quantized. A {@link BlockTuner} reads and replaces these between the
 * groups; {@link ModelQuantizer} quantizes the next group from what the tuner left.
 */
public final class LayerState {
  private final int layer;
  private final LlamaConfig config;
  private float[] attnNorm;
  private float[] ffnNorm;
  private final EnumMap<LinearGroup, float[]> dense = new EnumMap<>(LinearGroup.class);
  private final EnumMap<LinearGroup, QuantizedGroup> quantized = new EnumMap<>(LinearGroup.class);

  private LayerState(int layer, LlamaConfig config) {
    this.layer = layer;
    this.config = config;
  }

  /** The block's fp weights as the model file holds them (members stacked per group). */
  static LayerState fromSource(ModelSource src, int layer) {
    src.config().requirePlainLlama("blockwise fine-tuning");
    LayerState s = new LayerState(layer, src.config());
    String p = "model.layers." + layer + ".";
    s.attnNorm = src.tensor(p + "input_layernorm.weight").toFloats();
    s.ffnNorm = src.tensor(p + "post_attention_layernorm.weight").toFloats();
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
    return attnNorm.clone();
  }

  public float[] ffnNorm() {
    return ffnNorm.clone();
  }

  public void setNorms(float[] attn, float[] ffn) {
    Checks.length(attn.length, config.dim(), "attn norm", "dim");
    Checks.length(ffn.length, config.dim(), "ffn norm", "dim");
    Checks.finite(attn, "attn norm");
    Checks.finite(ffn, "ffn norm");
    attnNorm = attn.clone();
    ffnNorm = ffn.clone();
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

  void setQuantized(LinearGroup g, QuantizedGroup q) {
    dense.remove(g);
    quantized.put(g, q);
  }
}
