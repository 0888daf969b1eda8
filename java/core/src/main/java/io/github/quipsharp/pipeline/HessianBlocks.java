package io.github.quipsharp.pipeline;

import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.internal.HessianSum;

/**
 * The one summation order of a Hessian (QUIPSHARP.md §1.2), shared by every driver so that their
 * float64 sums are equal bit for bit. The calibration windows are cut into blocks of {@link
 * #WINDOWS} consecutive windows; each block's Σ x xᵀ is accumulated from zero by the native engine
 * window after window, and the blocks' sums are added in block order into a total that starts at
 * zero. Floating-point addition is not associative, so a driver that summed its windows in another
 * grouping (the Spark job sums window chunks in parallel) would differ in the last bits, and the
 * quantizer, which takes the float64 sum, could round differently. A driver may give the blocks to
 * any number of workers, as long as each block is summed whole and the totals are added in order.
 */
public final class HessianBlocks {
  /** Windows per block: a Spark task's unit of Phase A work, at most this many blocks per layer. */
  public static final int WINDOWS = 8;

  private HessianBlocks() {}

  /** How many blocks {@code windows} windows make (the last one may be shorter). */
  public static int count(int windows) {
    return (windows + WINDOWS - 1) / WINDOWS;
  }

  /** First window of block {@code b}. */
  public static int begin(int b) {
    return b * WINDOWS;
  }

  /** One past the last window of block {@code b}. */
  public static int end(int b, int windows) {
    return Math.min(windows, (b + 1) * WINDOWS);
  }

  /** Whether window {@code w} (0-based) closes its block. */
  public static boolean closesBlock(int w, int windows) {
    return w + 1 == windows || (w + 1) % WINDOWS == 0;
  }

  /** A running total of block sums, added in the order {@link #add} is called. */
  public static final class Total {
    private double[] sum;
    private long tokens;
    private int n;

    /** Adds one block's sum: total[i] + block[i] for every entry, in index order. */
    public void add(HessianSum block) {
      if (sum == null) {
        n = block.n();
        sum = new double[block.sum().length];
      } else if (block.n() != n) {
        throw new IllegalArgumentException("a block's Hessian is " + block.n() + " x " + block.n()
            + ", the total's " + n + " x " + n);
      }
      double[] s = block.sum();
      for (int i = 0; i < sum.length; i++) {
        sum[i] += s[i];
      }
      tokens += block.tokens();
    }

    /** The total so far (the array itself: add nothing after taking it). */
    public HessianSum result() {
      if (sum == null) {
        throw new IllegalStateException("no block was added");
      }
      return new HessianSum(n, sum, tokens);
    }
  }
}
