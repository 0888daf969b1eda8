package io.github.quipsharp.model;

/**
 * How RoPE's frequencies are derived beyond {@code rope_theta}: transformers' {@code rope_type} and
 * its parameters (transformers 5 {@code rope_parameters} / 4.x {@code rope_scaling}), and the part of
 * each head that rotates. The engine computes the table from these (qs_rope_frequencies) as
 * transformers' modeling_rope_utils does.
 *
 * @param type the rope_type
 * @param factor linear, llama3, yarn: the context scaling factor (1 for DEFAULT)
 * @param lowFreqFactor llama3 (0 otherwise)
 * @param highFreqFactor llama3 (0 otherwise)
 * @param originalMaxPositions llama3, yarn: the pre-training context (0 otherwise)
 * @param attentionFactor yarn: the factor on cos and sin; 0 = transformers' default from factor,
 *     mscale and mscaleAllDim
 * @param betaFast yarn: 0 = 32
 * @param betaSlow yarn: 0 = 1
 * @param mscale yarn: 0 = absent
 * @param mscaleAllDim yarn: 0 = absent
 * @param truncate yarn: round the correction range to whole dimensions (transformers' default)
 * @param partialRotaryFactor the fraction of each head that RoPE rotates (Phi-3; 1 elsewhere)
 */
public record RopeConfig(
    Type type,
    double factor,
    double lowFreqFactor,
    double highFreqFactor,
    int originalMaxPositions,
    double attentionFactor,
    double betaFast,
    double betaSlow,
    double mscale,
    double mscaleAllDim,
    boolean truncate,
    double partialRotaryFactor) {

  /** Plain RoPE over the whole head. */
  public static final RopeConfig DEFAULT =
      new RopeConfig(Type.DEFAULT, 1, 0, 0, 0, 0, 0, 0, 0, 0, true, 1.0);

  /** The rope_type values the engine implements (the engine's QS_ROPE_* in this order). */
  public enum Type {
    DEFAULT("default"), LINEAR("linear"), LLAMA3("llama3"), YARN("yarn");

    private final String jsonName;

    Type(String jsonName) {
      this.jsonName = jsonName;
    }

    /** The rope_type string of config.json. */
    public String jsonName() {
      return jsonName;
    }

    /** The type named {@code name} in config.json, or null when the engine lacks it. */
    public static Type ofJson(String name) {
      for (Type t : values()) {
        if (t.jsonName.equals(name)) {
          return t;
        }
      }
      return null;
    }
  }

  public RopeConfig {
    if (type == null) {
      throw new IllegalArgumentException("rope type must not be null");
    }
    for (double v : new double[] {factor, lowFreqFactor, highFreqFactor, attentionFactor, betaFast,
        betaSlow, mscale, mscaleAllDim}) {
      if (!Double.isFinite(v) || v < 0) {
        throw new IllegalArgumentException("RoPE parameters must be finite and >= 0: " + v);
      }
    }
    if (type != Type.DEFAULT && factor <= 0) {
      throw new IllegalArgumentException("rope factor = " + factor + " must be positive");
    }
    if (!(partialRotaryFactor > 0 && partialRotaryFactor <= 1)) {
      throw new IllegalArgumentException("partial_rotary_factor = " + partialRotaryFactor
          + " must be in (0, 1]");
    }
  }

  /**
   * The number of leading entries of each head that rotate: {@code int(headDim *
   * partialRotaryFactor)} as transformers computes it.
   */
  public int rotaryDim(int headDim) {
    return (int) (headDim * partialRotaryFactor);
  }

  /** A one-line description for {@code inspect}, e.g. "llama3 (factor 8, low 1, high 4, original 8192)". */
  public String describe() {
    StringBuilder b = new StringBuilder(type.jsonName());
    switch (type) {
      case LINEAR -> b.append(" (factor ").append(num(factor)).append(')');
      case LLAMA3 -> b.append(" (factor ").append(num(factor)).append(", low_freq_factor ")
          .append(num(lowFreqFactor)).append(", high_freq_factor ").append(num(highFreqFactor))
          .append(", original context ").append(originalMaxPositions).append(')');
      case YARN -> {
        b.append(" (factor ").append(num(factor)).append(", original context ")
            .append(originalMaxPositions);
        b.append(", attention_factor ").append(attentionFactor > 0 ? num(attentionFactor) : "default");
        b.append(", beta_fast ").append(num(betaFast > 0 ? betaFast : 32));
        b.append(", beta_slow ").append(num(betaSlow > 0 ? betaSlow : 1));
        if (mscale > 0 && mscaleAllDim > 0) {
          b.append(", mscale ").append(num(mscale)).append(", mscale_all_dim ").append(num(mscaleAllDim));
        }
        if (!truncate) {
          b.append(", truncate false");
        }
        b.append(')');
      }
      default -> { }
    }
    if (partialRotaryFactor != 1.0) {
      b.append(", partial_rotary_factor ").append(num(partialRotaryFactor));
    }
    return b.toString();
  }

  private static String num(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }
}
