package io.github.quipsharp.pipeline;

import io.github.quipsharp.LayerReport;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedLinear;
import io.github.quipsharp.Quantizer;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.internal.QuantizedGroup;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Quantizes one (layer, linear group) from its Hessian (QUIPSHARP.md §1.4): the one place that
 * stacks q/k/v and up/gate (each member divided by its RMS), derives the group's seed, calls
 * {@link Quantizer}, and turns its result into the stored form and the report. Both drivers (the
 * single-machine sequencer and Spark's tasks) quantize through here, so the same inputs give the
 * same shard bytes wherever they run.
 */
public final class GroupQuantizer {
  private GroupQuantizer() {}

  /** A quantized group in its stored form and its report. */
  public record Result(QuantizedGroup group, LayerReport report) {}

  /** The member weights of a group as the model file holds them (q, k, v; up, gate; o; down). */
  public static float[][] readMembers(ModelSource src, int layer, LinearGroup g) {
    String[] members = g.members();
    float[][] ws = new float[members.length][];
    for (int i = 0; i < members.length; i++) {
      ws[i] = src.tensor("model.layers." + layer + "." + members[i] + ".weight").toFloats();
    }
    return ws; // one layer group at a time lives in the heap
  }

  /** Splits a group's stacked weight (members' rows in order) back into its members. */
  public static float[][] splitMembers(LlamaConfig mc, LinearGroup g, float[] stacked) {
    int cols = g.cols(mc);
    int[] rows = g.memberRows(mc);
    float[][] members = new float[rows.length][];
    int off = 0;
    for (int i = 0; i < rows.length; i++) {
      members[i] = Arrays.copyOfRange(stacked, off, off + rows[i] * cols);
      off += rows[i] * cols;
    }
    return members;
  }

  /** The per-group seed of the sign vectors: the run's seed mixed with the layer and group. */
  public static long groupSeed(long seed, int layer, LinearGroup group) {
    long z = seed + 0x9E3779B97F4A7C15L * (layer * 4L + group.ordinal() + 1);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /**
   * Quantizes one group of {@code src} with its Hessian and writes its shard (a temporary name
   * renamed into place); returns its report. The same inputs give the same shard bytes.
   */
  public static LayerReport quantizeToShard(ModelSource src, int layer, LinearGroup g,
      HessianSum hessian, QuantConfig cfg, Path shard) throws IOException {
    Result r = quantize(src.config(), layer, g, readMembers(src, layer, g), hessian, cfg);
    CoreInternals.writeShard(shard, r.group(), r.report());
    return r.report();
  }

  /**
   * §1.4 on one group's member weights (rows of each as the config gives) with its Hessian sum:
   * members divided by their RMS and stacked, the group's own seed from {@link #groupSeed}; returns
   * the stored form and the report. The same inputs give the same result.
   */
  public static Result quantize(LlamaConfig mc, int layer, LinearGroup g, float[][] ws,
      HessianSum hessian, QuantConfig cfg) {
    int cols = g.cols(mc);
    int rows = g.rows(mc);
    // §1.4 step 1: each member divided by its RMS, then stacked; each row's RMS is its real scale
    // for the proxy loss.
    float[] stacked = new float[Math.multiplyExact(rows, cols)];
    float[] rowScale = new float[rows];
    float[] rms = new float[ws.length];
    int offset = 0;
    for (int i = 0; i < ws.length; i++) {
      double ss = 0;
      for (float v : ws[i]) {
        ss += (double) v * v;
      }
      double r = Math.sqrt(ss / ws[i].length);
      rms[i] = (float) (r > 0 ? r : 1.0);
      for (int j = 0; j < ws[i].length; j++) {
        stacked[offset + j] = ws[i][j] / rms[i];
      }
      Arrays.fill(rowScale, offset / cols, (offset + ws[i].length) / cols, rms[i]);
      offset += ws[i].length;
    }
    String where = "layer " + layer + " " + g.key();
    if (hessian.tokens() == 0) {
      throw new IllegalStateException(where + ": no calibration token reached this layer");
    }
    long seed = groupSeed(cfg.seed(), layer, g);
    QuantConfig gc = cfg.toBuilder().seed(seed).build();
    // The quantizer forms H = Σ x xᵀ / tokens (§1.2) from the float64 sum itself.
    try (Quantizer.Result result = Quantizer.quantize(stacked, rows, cols, hessian.sum(),
        hessian.tokens(), rowScale, gc)) {
      QuantizedLinear q = result.linear();
      // The stored form (§1.4 step 8): SV = s_out·Wscale (·r_1 when unfused), fp16.
      float[] sv = q.signsOut();
      boolean fused = ws.length > 1;
      for (int i = 0; i < sv.length; i++) {
        sv[i] = (float) (sv[i] * q.scale() * (fused ? 1.0 : rms[0]));
      }
      // Checked before the fp16 rounding below, so that the message shows the real value.
      CoreInternals.requireF16(sv, where + " SV (signs x scale)");
      if (fused) {
        CoreInternals.requireF16(rms, where + " fuse_scales (each member's RMS)");
      }
      QuantizedGroup stored = new QuantizedGroup(layer, g, rows, cols, gc, q.codes(),
          CoreInternals.roundF16(q.signsIn()), CoreInternals.roundF16(sv), 1.0f,
          CoreInternals.roundF16(fused ? rms : new float[] {1.0f}));
      // Relative proxy loss at the real scale (each member's rows times its RMS), from the
      // quantizer's own float64 computation under the mean Hessian, before the fp16 storage.
      return new Result(stored,
          new LayerReport(layer, g, q.shape(), seed, result.relativeProxyLoss()));
    }
  }
}
