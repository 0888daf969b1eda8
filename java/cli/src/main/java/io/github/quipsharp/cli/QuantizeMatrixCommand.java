package io.github.quipsharp.cli;

import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedLinear;
import io.github.quipsharp.Quantizer;
import io.github.quipsharp.Rounding;
import io.github.quipsharp.cli.options.FlagChecks;
import io.github.quipsharp.cli.options.MatrixShapeOptions;
import io.github.quipsharp.cli.options.NativeThreadsOption;
import io.github.quipsharp.cli.options.RefinePassesOption;
import io.github.quipsharp.internal.SyntheticData;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** quantize-matrix: quantizes a synthetic Gaussian matrix and compares BlockLDLQ with nearest. */
@Command(
    name = "quantize-matrix",
    mixinStandardHelpOptions = true,
    description = {
      "Quantizes a synthetic N(0,1) matrix with QuIP# (RHT + BlockLDLQ) and with RHT + nearest",
      "rounding, and prints the proxy loss tr((W-Q)H(W-Q)^T) of each, its ratio to tr(WHW^T),",
      "the mean squared weight error and the time taken."
    })
final class QuantizeMatrixCommand implements Callable<Integer> {
  enum HessianKind {
    random,
    identity
  }

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Mixin MatrixShapeOptions shape;

  @Option(names = "--bits", defaultValue = "2", description = "Bits per weight: 2, 3 or 4 (default: ${DEFAULT-VALUE}).")
  int bits;

  @Option(
      names = "--hessian",
      defaultValue = "random",
      description = "random: a correlated SPD Hessian (AR(1), rho 0.95, log-normal channel scales);"
          + " identity: H = I (default: ${DEFAULT-VALUE}).")
  HessianKind hessian;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the matrix, the Hessian and the sign vectors (default: ${DEFAULT-VALUE}).")
  long seed;

  @CommandLine.Mixin RefinePassesOption refinePassesOption;

  @CommandLine.Mixin NativeThreadsOption threads;

  @Override
  public Integer call() {
    int rows = shape.rows();
    int cols = shape.cols();
    FlagChecks.oneOf("--bits", bits, 2, 3, 4);
    int refinePasses = refinePassesOption.value();
    requireHeap(rows, cols);
    threads.apply();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    QuantConfig.Builder base = QuantConfig.builder().bits(bits).seed(seed);
    QuantConfig ldlq = base.rounding(Rounding.BLOCK_LDLQ).refinePasses(refinePasses).build();
    QuantConfig nearest = ldlq.toBuilder().rounding(Rounding.NEAREST).refinePasses(0).build();
    err.printf(Locale.ROOT, "generating %d x %d matrix and %s Hessian...%n", rows, cols, hessian);
    err.flush();
    float[] w = SyntheticData.gaussian(rows, cols, seed);
    float[] h = hessian == HessianKind.identity ? null : SyntheticData.correlatedHessian(cols, seed + 1);
    out.printf(Locale.ROOT, "quantize-matrix %d x %d, %d bits, hessian %s, seed %d%n", rows, cols,
        bits, hessian, seed);
    report(out, err, "BlockLDLQ + " + refinePasses + " refine passes", w, rows, cols, h, ldlq);
    report(out, err, "nearest rounding (RHT)", w, rows, cols, h, nearest);
    return 0;
  }

  /**
   * Refuses up front a matrix whose Java arrays do not fit the heap: W, its decoding and the
   * Hessian, 4 bytes per value each (the quantizer's own work arrays live in native memory).
   */
  static void requireHeap(int rows, int cols) {
    long floats = 2L * rows * cols + (long) cols * cols;
    long heap = Runtime.getRuntime().maxMemory();
    if (rows * (long) cols > Integer.MAX_VALUE - 8 || (long) cols * cols > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("--rows " + rows + " x --cols " + cols + " is too large "
          + "for one Java array (at most 2^31 - 9 values in W and in the cols x cols Hessian)");
    }
    if (4 * floats > heap) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "--rows %d x --cols %d needs "
          + "about %.1f GiB of Java heap (W, its decoding and the Hessian in float), more than this "
          + "JVM's %.1f GiB: lower --rows / --cols, or give Java more heap (java -Xmx<size>)", rows,
          cols, 4.0 * floats / (1L << 30), heap / (double) (1L << 30)));
    }
  }

  private static void report(PrintWriter out, PrintWriter err, String label, float[] w, int rows,
      int cols, float[] h, QuantConfig cfg) {
    err.printf(Locale.ROOT, "quantizing: %s...%n", label);
    err.flush();
    long start = System.nanoTime();
    try (QuantizedLinear q = Quantizer.quantize(w, rows, cols, h, cfg)) {
      double seconds = (System.nanoTime() - start) / 1e9;
      float[] wHat = q.decode();
      double loss = Quantizer.proxyLoss(w, wHat, rows, cols, h);
      double norm = Quantizer.proxyLoss(w, new float[w.length], rows, cols, h);
      double mse = 0;
      for (int i = 0; i < w.length; i++) {
        double e = w[i] - wHat[i];
        mse += e * e;
      }
      mse /= w.length;
      out.printf(Locale.ROOT,
          "  %-34s proxy loss %.6e  relative %.6f  MSE %.6f  time %.3f s%n", label + ":", loss,
          loss / norm, mse, seconds);
      out.flush();
    }
  }
}
