package io.github.quipsharp;

import com.google.common.base.MoreObjects;
import io.github.quipsharp.internal.Checks;
import java.util.Objects;

/**
 * Immutable quantization settings for one matrix (QUIPSHARP.md §1.4). Build with {@link #builder()};
 * every setting has the default given below, and every checkpoint stores its settings so that a
 * result can be reproduced.
 *
 * <ul>
 *   <li>{@code bits} (default 2): 2 = E8P12, 3 = E8P12 + E81B residual, 4 = E8P12 + E8P12 residual.
 *   <li>{@code seed} (default 0): the random sign vectors; the same seed gives identical codes.
 *   <li>{@code rounding} (default BLOCK_LDLQ).
 *   <li>{@code refinePasses} (default 10, as the reference's {@code quip_tune_iters}; §5.3). Ours
 *       never increase the proxy loss. Only used with BLOCK_LDLQ.
 *   <li>{@code damping} (default 0.01): H ← H/mean(diag H) + damping·I (§1.3).
 *   <li>{@code scale} (default 0 = the codebook's ρ: 1.03 for 2 and 4 bits, 0.98 for 3 bits).
 *   <li>{@code residualScale} (default 0 = the codebook's ρ₂: 3.45 at 4 bits, 2.04 at 3 bits).
 *   <li>{@code incoherence} (default true): the randomized Hadamard transform on both sides.
 * </ul>
 */
public final class QuantConfig implements java.io.Serializable {
  private static final long serialVersionUID = 1L;
  public static final int DEFAULT_REFINE_PASSES = 10;
  public static final double DEFAULT_DAMPING = 0.01;

  private final int bits;
  private final long seed;
  private final Rounding rounding;
  private final int refinePasses;
  private final double damping;
  private final double scale;
  private final double residualScale;
  private final boolean incoherence;

  private QuantConfig(Builder b) {
    this.bits = b.bits;
    this.seed = b.seed;
    this.rounding = b.rounding;
    this.refinePasses = b.refinePasses;
    this.damping = b.damping;
    this.scale = b.scale;
    this.residualScale = b.residualScale;
    this.incoherence = b.incoherence;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding these settings. */
  /** A deserialized config (Spark ships it to its tasks) passes the builder's checks again. */
  private Object readResolve() {
    return toBuilder().build();
  }

  public Builder toBuilder() {
    return new Builder()
        .bits(bits)
        .seed(seed)
        .rounding(rounding)
        .refinePasses(refinePasses)
        .damping(damping)
        .scale(scale)
        .residualScale(residualScale)
        .incoherence(incoherence);
  }

  public int bits() {
    return bits;
  }

  public long seed() {
    return seed;
  }

  public Rounding rounding() {
    return rounding;
  }

  public int refinePasses() {
    return refinePasses;
  }

  public double damping() {
    return damping;
  }

  /** ρ, or 0 for the codebook default. */
  public double scale() {
    return scale;
  }

  /** ρ₂, or 0 for the codebook default. */
  public double residualScale() {
    return residualScale;
  }

  public boolean incoherence() {
    return incoherence;
  }

  /** The codebook id stored in checkpoints (§8.3): 7, 18 or 17 for 2, 3 or 4 bits. */
  public int codebookId() {
    return codebookIdForBits(bits);
  }

  static int codebookIdForBits(int bits) {
    switch (bits) {
      case 2:
        return 7;
      case 3:
        return 18;
      case 4:
        return 17;
      default:
        throw new IllegalArgumentException("bits = " + bits + " must be 2, 3 or 4");
    }
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof QuantConfig)) {
      return false;
    }
    QuantConfig c = (QuantConfig) o;
    return bits == c.bits
        && seed == c.seed
        && rounding == c.rounding
        && refinePasses == c.refinePasses
        && Double.compare(damping, c.damping) == 0
        && Double.compare(scale, c.scale) == 0
        && Double.compare(residualScale, c.residualScale) == 0
        && incoherence == c.incoherence;
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        bits, seed, rounding, refinePasses, damping, scale, residualScale, incoherence);
  }

  @Override
  public String toString() {
    return MoreObjects.toStringHelper(this)
        .add("bits", bits)
        .add("seed", seed)
        .add("rounding", rounding)
        .add("refinePasses", refinePasses)
        .add("damping", damping)
        .add("scale", scale)
        .add("residualScale", residualScale)
        .add("incoherence", incoherence)
        .toString();
  }

  /** Builder of {@link QuantConfig}; each setter validates its argument. */
  public static final class Builder {
    private int bits = 2;
    private long seed;
    private Rounding rounding = Rounding.BLOCK_LDLQ;
    private int refinePasses = DEFAULT_REFINE_PASSES;
    private double damping = DEFAULT_DAMPING;
    private double scale;
    private double residualScale;
    private boolean incoherence = true;

    private Builder() {}

    /** 2, 3 or 4. */
    public Builder bits(int bits) {
      codebookIdForBits(bits);
      this.bits = bits;
      return this;
    }

    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    public Builder rounding(Rounding rounding) {
      this.rounding = Checks.notNull(rounding, "rounding");
      return this;
    }

    /** Refinement passes after BlockLDLQ (§5.3), 0 or more. */
    public Builder refinePasses(int refinePasses) {
      if (refinePasses < 0) {
        throw new IllegalArgumentException("refinePasses = " + refinePasses + " must be >= 0");
      }
      this.refinePasses = refinePasses;
      return this;
    }

    /** Relative damping σ of §1.3, finite and >= 0. */
    public Builder damping(double damping) {
      if (!(damping >= 0) || !Double.isFinite(damping)) {
        throw new IllegalArgumentException("damping = " + damping + " must be finite and >= 0");
      }
      this.damping = damping;
      return this;
    }

    /** Codebook scale ρ (> 0), or 0 for the codebook default. */
    public Builder scale(double scale) {
      if (!(scale >= 0) || !Double.isFinite(scale)) {
        throw new IllegalArgumentException(
            "scale = " + scale + " must be finite and > 0 (or 0 for the default)");
      }
      this.scale = scale;
      return this;
    }

    /** Residual scale ρ₂ (> 0) for 3 and 4 bits, or 0 for the codebook default. */
    public Builder residualScale(double residualScale) {
      if (!(residualScale >= 0) || !Double.isFinite(residualScale)) {
        throw new IllegalArgumentException(
            "residualScale = " + residualScale + " must be finite and > 0 (or 0 for the default)");
      }
      this.residualScale = residualScale;
      return this;
    }

    /** Whether to apply the randomized Hadamard transform on both sides (default true). */
    public Builder incoherence(boolean incoherence) {
      this.incoherence = incoherence;
      return this;
    }

    public QuantConfig build() {
      return new QuantConfig(this);
    }
  }
}
