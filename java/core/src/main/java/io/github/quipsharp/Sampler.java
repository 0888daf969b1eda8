package io.github.quipsharp;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy (temperature 0), or softmax at a temperature restricted to
 * the top-k tokens and then to the smallest set whose probability reaches top-p (nucleus), drawn from
 * a seeded generator so that a seed reproduces a generation.
 */
public final class Sampler {
  private final double temperature;
  private final int topK;
  private final double topP;
  private final SplittableRandom random;

  private Sampler(double temperature, int topK, double topP, long seed) {
    if (!(temperature >= 0) || Double.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature = " + temperature
          + " must be a finite number >= 0 (0 = greedy)");
    }
    if (topK < 0) {
      throw new IllegalArgumentException("top-k = " + topK + " must be >= 0 (0 = no limit)");
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("top-p = " + topP + " must be in (0, 1]");
    }
    this.temperature = temperature;
    this.topK = topK;
    this.topP = topP;
    this.random = new SplittableRandom(seed);
  }

  /** The most likely token every time (temperature 0). */
  public static Sampler greedy() {
    return builder().build();
  }

  /**
   * A sampler set by name; starts greedy (temperature 0), with no top-k limit, no nucleus cut (top-p
   * 1) and seed 0. {@link Builder#build} checks the values (an IllegalArgumentException names it).
   */
  public static Builder builder() {
    return new Builder();
  }

  /** The settings of a {@link Sampler}. */
  public static final class Builder {
    private double temperature;
    private int topK;
    private double topP = 1;
    private long seed;

    private Builder() {}

    /** 0 for greedy, else > 0 (finite). */
    public Builder temperature(double t) {
      temperature = t;
      return this;
    }

    /** 0 for no limit, else the number of most likely tokens kept. */
    public Builder topK(int k) {
      topK = k;
      return this;
    }

    /** In (0, 1]; 1 for no nucleus cut. */
    public Builder topP(double p) {
      topP = p;
      return this;
    }

    /** The seed of the draws: the same seed and logits give the same tokens. */
    public Builder seed(long s) {
      seed = s;
      return this;
    }

    public Sampler build() {
      return new Sampler(temperature, topK, topP, seed);
    }
  }

  /** The next token for {@code logits} (length = vocabulary size). */
  public int sample(float[] logits) {
    int n = logits.length;
    if (temperature == 0) {
      int best = 0;
      for (int i = 1; i < n; i++) {
        if (logits[i] > logits[best]) {
          best = i;
        }
      }
      return best;
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    // Descending by logit, ties by id, so that the candidate set is deterministic.
    Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : a - b);
    int keep = topK > 0 ? Math.min(topK, n) : n;
    double max = logits[order[0]];
    double[] p = new double[keep];
    double sum = 0;
    for (int i = 0; i < keep; i++) {
      p[i] = Math.exp((logits[order[i]] - max) / temperature);
      sum += p[i];
    }
    double cum = 0;
    int cut = keep;
    for (int i = 0; i < keep; i++) {
      cum += p[i] / sum;
      if (cum >= topP) {
        cut = i + 1;
        break;
      }
    }
    double total = 0;
    for (int i = 0; i < cut; i++) {
      total += p[i];
    }
    double r = random.nextDouble() * total;
    for (int i = 0; i < cut; i++) {
      r -= p[i];
      if (r < 0) {
        return order[i];
      }
    }
    return order[cut - 1];
  }
}
