package io.github.quipsharp.pipeline;

import io.github.quipsharp.LayerReport;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizationInfo;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.BlockTuner;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.LayerState;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.safetensors.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The single-machine sequencer (QUIPSHARP.md §1): the Hessians of the layers that still need them
 * into the run's {@link HessianStore}, then every layer group through {@link GroupQuantizer} into
 * its shard (with blockwise fine-tuning, §6.2, a layer's groups in turn with tuning between), then
 * the checkpoint from the shards. Each finished piece stays under {@code .partial}, so that an
 * interrupted run resumes where it stopped and assembles the checkpoint of an uninterrupted run.
 */
public final class QuantizationRun {
  private final ModelSource src;
  private final LlamaConfig mc;
  private final int[] calibration;
  private final int ctx;
  private final int windows;
  private final QuantConfig cfg;
  private final RunLayout layout;
  private final BlockTuner tuner;
  private final ProgressListener listener;

  public QuantizationRun(ModelSource src, int[] calibration, int ctx, int windows, QuantConfig cfg,
      RunLayout layout, BlockTuner tuner, ProgressListener listener) {
    this.src = src;
    this.mc = src.config();
    this.calibration = calibration;
    this.ctx = ctx;
    this.windows = windows;
    this.cfg = cfg;
    this.layout = layout;
    this.tuner = tuner;
    this.listener = listener;
  }

  /**
   * Heap that quantizing a layer group holds at once (§1.4): the members as read, stacked and as
   * the original, and the decoded result (4 bytes each per weight), the Hessian sum (8 bytes per
   * entry of the n x n matrix) and its mean (4). A lower bound: more is live at times.
   */
  public static long groupHeapBytes(LlamaConfig c, LinearGroup g) {
    long n = g.cols(c);
    return 16L * g.rows(c) * n + 12L * n * n;
  }

  /**
   * Refuses up front a model whose largest layer group cannot be quantized in {@code heap} bytes
   * (it would fail with an out-of-memory error hours later, after the Hessians).
   */
  public static void requireHeap(LlamaConfig c, long heap) {
    LinearGroup g = Arrays.stream(LinearGroup.values())
        .max(Comparator.comparingLong(x -> groupHeapBytes(c, x))).orElseThrow();
    long need = groupHeapBytes(c, g);
    if (need > heap) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "quantizing layer "
          + "group %s (%d x %d) needs at least %.1f GiB of Java heap (its weights and %d x %d "
          + "Hessian), more than this JVM's %.1f GiB: give Java more heap (java -Xmx<size>)",
          g.key(), g.rows(c), g.cols(c), need / (double) (1L << 30), g.cols(c), g.cols(c),
          heap / (double) (1L << 30)));
    }
  }

  /**
   * Checks everything that can be refused (heap, fp16 fit, output folder, a resumed run's
   * settings), then runs; a run that fails before its first shard removes what it created.
   */
  public QuantizationInfo run(boolean resume) throws IOException {
    requireHeap(mc, Runtime.getRuntime().maxMemory());
    RunSettings settings = RunSettings.of(src, cfg, ctx, windows, calibration);
    if (tuner != null) {
      settings = settings.withBlockwise(tuner.settings());
    }
    CoreInternals.requireDenseFitF16(src);
    boolean createdOut = !Files.exists(layout.out());
    boolean createdPartial = layout.prepare(settings, resume, listener);
    if (ctx > mc.maxSeqLen()) { // allowed, or the caller would have refused it
      listener.windowsPastContext(ctx, mc.maxSeqLen());
    }
    try {
      return quantizeAll(settings);
    } catch (RuntimeException | IOException | Error e) {
      forgetUnstarted(createdOut, createdPartial, e);
      throw e;
    }
  }

  /**
   * After a failure: a run that wrote no layer group yet removes what it created (the next run
   * starts clean instead of being told to resume a run with nothing in it).
   */
  private void forgetUnstarted(boolean createdOut, boolean createdPartial, Throwable failure) {
    try {
      if (!createdPartial || layout.hasShards()) {
        return;
      }
      AtomicFiles.deleteTree(layout.partial());
      if (createdOut) {
        try (var entries = Files.list(layout.out())) {
          if (entries.findAny().isEmpty()) {
            Files.delete(layout.out());
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  private QuantizationInfo quantizeAll(RunSettings settings) throws IOException {
    HessianStore hessians = layout.hessians();
    collectHessians(hessians);
    int total = mc.layers() * LinearGroup.values().length;
    int index = 0;
    boolean tunerStarted = false;
    for (int l = 0; l < mc.layers(); l++) {
      if (tuner != null && !layout.layerDone(l, true)) {
        if (!tunerStarted) {
          tuner.start(src, calibration, ctx, windows, listener, layout.tunerDir());
          tunerStarted = true;
        }
        quantizeTunedLayer(hessians, l, index, total);
        index += LinearGroup.values().length;
        continue;
      }
      for (LinearGroup g : LinearGroup.values()) {
        Path shard = layout.shard(l, g);
        boolean resumed = Files.exists(shard);
        if (!resumed) {
          listener.layerStarted(l, g, index, total);
          GroupQuantizer.quantizeToShard(src, l, g, hessians.read(l, g), cfg, shard);
        }
        LayerReport r = CoreInternals.readShardReport(shard, l, g, cfg);
        listener.layerFinished(r, index, total, resumed);
        index++;
      }
    }
    RunSettings recorded = settings;
    if (tuner != null) {
      recorded = settings.withBlockwiseRecord(tuner.record(layout.tunerDir()));
    }
    QuantizationInfo info = assemble(src, cfg, recorded, layout.partial(), layout.out());
    listener.info("wrote " + layout.out());
    AtomicFiles.deleteTree(layout.partial());
    return info;
  }

  /**
   * Writes the checkpoint folder {@code out} from the finished shards of every layer group under
   * {@code partial} (config.json last). Returns the shards' reports.
   */
  public static QuantizationInfo assemble(ModelSource src, QuantConfig cfg, RunSettings settings,
      Path partial, Path out) throws IOException {
    List<LayerReport> reports = new ArrayList<>();
    for (int l = 0; l < src.config().layers(); l++) {
      for (LinearGroup g : LinearGroup.values()) {
        reports.add(CoreInternals.readShardReport(
            partial.resolve(RunLayout.LAYERS).resolve(RunLayout.shardName(l, g)), l, g, cfg));
      }
    }
    QuantizationInfo info = new QuantizationInfo(cfg, reports);
    CoreInternals.assemble(src, info, settings, partial, out);
    return info;
  }

  /**
   * §6.2: qkv → tune → o → tune → up → tune → down, each group quantized from the weights the
   * previous tuning left; the layer's shards and norms are written when all four are done.
   */
  private void quantizeTunedLayer(HessianStore hessians, int layer, int index, int total)
      throws IOException {
    LayerState state = LayerState.fromSource(src, layer);
    LayerReport[] reports = new LayerReport[LinearGroup.values().length];
    for (LinearGroup g : LinearGroup.values()) {
      listener.layerStarted(layer, g, index + g.ordinal(), total);
      float[][] members = GroupQuantizer.splitMembers(mc, g, state.denseWeight(g));
      GroupQuantizer.Result r = GroupQuantizer.quantize(mc, layer, g, members,
          hessians.read(layer, g), cfg);
      state.setQuantized(g, r.group());
      reports[g.ordinal()] = r.report();
      listener.layerFinished(r.report(), index + g.ordinal(), total, false);
      if (g != LinearGroup.DOWN) {
        tuner.tune(state, g, listener);
      }
    }
    for (LinearGroup g : LinearGroup.values()) {
      CoreInternals.writeShard(layout.shard(layer, g), state.quantized(g), reports[g.ordinal()]);
    }
    CoreInternals.writeNormsShard(layout.partial(), layer, state);
  }

  /** §1.2 on the fp model, in layer chunks whose accumulators fit a 2 GiB budget. */
  private void collectHessians(HessianStore hessians) throws IOException {
    boolean[] need = RunLayout.layersNeedingHessians(mc.layers(), hessians::containsLayer,
        l -> layout.layerDone(l, tuner != null));
    List<Integer> missing = new ArrayList<>();
    for (int l = 0; l < need.length; l++) {
      if (need[l]) {
        missing.add(l);
      }
    }
    if (missing.isEmpty()) {
      return;
    }
    long perLayer = 0; // bytes of one layer's fp64 accumulators
    for (LinearGroup g : LinearGroup.values()) {
      perLayer += 8L * g.cols(mc) * g.cols(mc);
    }
    // Native accumulators of a block plus the Java totals of the layers in one pass: 1 GiB each.
    int chunk = (int) Math.max(1, Math.min(mc.layers(), (1L << 30) / perLayer));
    listener.info("collecting Hessians of " + missing.size() + " layers on " + windows
        + " windows of " + ctx + " tokens");
    try (LlamaModel fp = LlamaModel.fromSource(src, DType.F32)) {
      for (int i = 0; i < missing.size(); ) {
        int begin = missing.get(i);
        int end = begin;
        while (i < missing.size() && missing.get(i) == end && end - begin < chunk) {
          end++;
          i++;
        }
        // Summed block by block in HessianBlocks' order, as the Spark job sums them.
        HessianBlocks.Total[] totals = new HessianBlocks.Total[(end - begin) * 4];
        for (int t = 0; t < totals.length; t++) {
          totals[t] = new HessianBlocks.Total();
        }
        CoreInternals.startHessians(fp, begin, end);
        int[] window = new int[ctx];
        for (int w = 0; w < windows; w++) {
          System.arraycopy(calibration, w * ctx, window, 0, ctx);
          String where = "calibration window " + w + " (tokens " + (long) w * ctx + ".."
              + ((long) (w + 1) * ctx - 1) + ")";
          CoreInternals.checkedForward(fp, window, 0, false, () -> {
            CoreInternals.stopHessians(fp); // the diagnostic pass must not add to them
            return window;
          }, where);
          if (HessianBlocks.closesBlock(w, windows)) {
            for (int l = begin; l < end; l++) {
              for (LinearGroup g : LinearGroup.values()) {
                totals[(l - begin) * 4 + g.ordinal()].add(CoreInternals.hessian(fp, l, g));
              }
            }
            if (w + 1 < windows) {
              CoreInternals.startHessians(fp, begin, end); // the next block starts from zero
            }
          }
          listener.hessianProgress(w + 1, windows);
        }
        CoreInternals.stopHessians(fp);
        for (int l = begin; l < end; l++) {
          for (LinearGroup g : LinearGroup.values()) {
            hessians.write(l, g, totals[(l - begin) * 4 + g.ordinal()].result());
          }
        }
      }
    }
  }
}
