package io.github.quipsharp;

/**
 * The linear layers of a Llama block that share an input and are quantized as one stacked matrix
 * (QUIPSHARP.md §1.2, §1.4): q,k,v; o; up,gate (up rows first); down.
 */
public enum LinearGroup {
  QKV("qkv", "self_attn.qkv_proj", new String[] {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}),
  O("o", "self_attn.o_proj", new String[] {"self_attn.o_proj"}),
  UP("up", "mlp.upgate_proj", new String[] {"mlp.up_proj", "mlp.gate_proj"}),
  DOWN("down", "mlp.down_proj", new String[] {"mlp.down_proj"});

  private final String key;
  private final String checkpointName;
  private final String[] members;

  LinearGroup(String key, String checkpointName, String[] members) {
    this.key = key;
    this.checkpointName = checkpointName;
    this.members = members;
  }

  /** "qkv", "o", "up" or "down" (the reference's Hessian file keys). */
  public String key() {
    return key;
  }

  /** The quantized tensor prefix of §8.3 within a layer, e.g. "self_attn.qkv_proj". */
  public String checkpointName() {
    return checkpointName;
  }

  /** The Hugging Face module names of the members, in stacking order (without ".weight"). */
  public String[] members() {
    return members.clone();
  }

  /** Input width of this group in a model of config {@code c}: dim, heads×headDim, dim, hidden. */
  public int cols(io.github.quipsharp.model.LlamaConfig c) {
    return switch (this) {
      case QKV, UP -> c.dim();
      case O -> c.qDim();
      case DOWN -> c.hiddenDim();
    };
  }

  /** Rows of this group's stacked matrix in a model of config {@code c}. */
  public int rows(io.github.quipsharp.model.LlamaConfig c) {
    return switch (this) {
      case QKV -> c.qDim() + 2 * c.kvDim();
      case O, DOWN -> c.dim();
      case UP -> 2 * c.hiddenDim();
    };
  }

  /** Rows of each member, in stacking order (q, k, v; o; up, gate; down). */
  public int[] memberRows(io.github.quipsharp.model.LlamaConfig c) {
    return switch (this) {
      case QKV -> new int[] {c.qDim(), c.kvDim(), c.kvDim()};
      case O, DOWN -> new int[] {c.dim()};
      case UP -> new int[] {c.hiddenDim(), c.hiddenDim()};
    };
  }

  /** The group with this {@link #key()}. */
  public static LinearGroup ofKey(String key) {
    for (LinearGroup g : values()) {
      if (g.key.equals(key)) {
        return g;
      }
    }
    throw new IllegalArgumentException("group \"" + key + "\" is not one of qkv, o, up, down");
  }
}
