package io.github.quipsharp.internal;

import java.util.SplittableRandom;

/**
 * Deterministic synthetic inputs for demos, tests and benchmarks: Gaussian weight matrices and
 * correlated Hessians like those of real layer inputs (a few channels much larger than the rest,
 * neighbouring channels correlated).
 */
public final class SyntheticData {
  private SyntheticData() {}

  /** rows×cols i.i.d. N(0, 1) values from {@code seed}. */
  public static float[] gaussian(int rows, int cols, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    float[] out = new float[Checks.product(rows, cols, "matrix")];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) gaussian(random);
    }
    return out;
  }

  /**
   * An n×n SPD Hessian H = diag(d) T diag(d) with T[i][j] = ρ^|i−j| (an AR(1) correlation, ρ = 0.95)
   * and log-normal channel scales d (σ = 1): strongly correlated, far from the identity.
   */
  public static float[] correlatedHessian(int n, long seed) {
    Checks.positive(n, "n");
    SplittableRandom random = new SplittableRandom(seed);
    double[] d = new double[n];
    for (int i = 0; i < n; i++) {
      d[i] = Math.exp(gaussian(random));
    }
    double rho = 0.95;
    double[] powers = new double[n];
    powers[0] = 1;
    for (int k = 1; k < n; k++) {
      powers[k] = powers[k - 1] * rho;
    }
    float[] h = new float[Checks.product(n, n, "hessian")];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        h[i * n + j] = (float) (d[i] * d[j] * powers[Math.abs(i - j)]);
      }
    }
    return h;
  }

  /**
   * The empirical second moment XᵀX / samples of {@code samples} vectors of length n whose
   * coordinates follow an AR(1) process (correlation ρ between neighbours) with log-normal channel
   * scales. Cost O(samples·n²): meant for n up to a few thousand.
   */
  public static float[] empiricalHessian(int n, int samples, double rho, long seed) {
    Checks.positive(n, "n");
    Checks.positive(samples, "samples");
    SplittableRandom random = new SplittableRandom(seed);
    double[] scale = new double[n];
    for (int i = 0; i < n; i++) {
      scale[i] = Math.exp(0.5 * gaussian(random));
    }
    double[] acc = new double[Checks.product(n, n, "hessian")];
    double[] x = new double[n];
    double innovation = Math.sqrt(1 - rho * rho);
    for (int s = 0; s < samples; s++) {
      double prev = gaussian(random);
      for (int i = 0; i < n; i++) {
        prev = i == 0 ? prev : rho * prev + innovation * gaussian(random);
        x[i] = prev * scale[i];
      }
      for (int i = 0; i < n; i++) {
        double xi = x[i];
        int row = i * n;
        for (int j = 0; j <= i; j++) {
          acc[row + j] += xi * x[j];
        }
      }
    }
    float[] h = new float[acc.length];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        float v = (float) (acc[i * n + j] / samples);
        h[i * n + j] = v;
        h[j * n + i] = v;
      }
    }
    return h;
  }

  public static double gaussian(SplittableRandom random) {
    // Box-Muller; u1 in (0, 1] so the log is finite.
    double u1 = 1.0 - random.nextDouble();
    double u2 = random.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
