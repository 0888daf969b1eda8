package io.github.quipsharp.spark;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.pipeline.HessianBlocks;
import io.github.quipsharp.safetensors.DType;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;

/**
 * Phase A: the Hessians of §1.2, distributed over calibration windows. The windows are cut into
 * the blocks of {@link HessianBlocks}, and the blocks into chunks of whole blocks, one per
 * partition. Layer by layer, each task loads that one layer from the model files, runs its chunk's
 * windows through it ({@link LlamaModel#layerForward}: positions from 0, causal attention within
 * the window, the same bits as the whole-model pass), writes each block's Σ x xᵀ (float64, from
 * zero) of each group's inputs to the run folder's scratch (the one Hessian format), and keeps its
 * output hidden states for the next layer as a Spark partition persisted on disk. Then one task
 * per group adds the block sums in block order (never in order of task completion), exactly as
 * the single machine does, so the result is the single machine's bit for bit whatever the
 * partitions, and writes it to the run's {@link HadoopHessianStore}; the driver holds no Hessian.
 */
final class HessianPhase {
  private HessianPhase() {}

  /** The token windows of one chunk, which starts at block {@code firstBlock}. */
  record ChunkWindows(int chunk, int firstBlock, int[][] windows) implements Serializable {}

  /** One chunk's hidden states (window × ctx·dim) entering the next layer. */
  record ChunkStates(int chunk, int firstBlock, float[][] hidden) implements Serializable {}

  /**
   * Collects the Hessians of every layer {@code l} with {@code need[l]}, running the layers before
   * the last of them (their hidden states are needed even where their Hessians are not).
   */
  static void run(JavaSparkContext sc, TaskSettings t, int[] calibration, int windows,
      int partitions, boolean[] need, ProgressLog log) throws IOException {
    int last = -1;
    for (int l = 0; l < need.length; l++) {
      if (need[l]) {
        last = l;
      }
    }
    if (last < 0) {
      return;
    }
    List<ChunkWindows> chunks = chunks(calibration, windows, t.ctx(), partitions);
    log.info(String.format(java.util.Locale.ROOT, "Phase A: Hessians of %d layers on %d windows of %d "
        + "tokens in %d chunks", count(need), windows, t.ctx(), chunks.size()));
    ProgressLog.Phase phase = log.phase("hessians", last + 1);
    JavaRDD<ChunkStates> states = sc.parallelize(chunks, chunks.size()).map(c -> embed(t, c));
    for (int l = 0; l <= last; l++) {
      final int layer = l;
      final boolean collect = need[l];
      final boolean keep = l < last;
      sc.setJobDescription("Phase A: layer " + layer + (collect ? " forward + Hessians" : " forward"));
      JavaRDD<ChunkStates> next = states.map(c -> forward(t, layer, collect, keep, c))
          .persist(StorageLevel.DISK_ONLY());
      next.count();
      if (collect) {
        sc.setJobDescription("Phase A: layer " + layer + " Hessian sums in chunk order");
        int blocks = HessianBlocks.count(windows);
        List<LinearGroup> groups = List.of(LinearGroup.values());
        sc.parallelize(groups, groups.size()).foreach(g -> sumBlocks(t, layer, g, blocks));
        t.folder().delete(t.folder().scratch(layer));
      }
      states.unpersist(false);
      states = next;
      phase.done("layer " + layer + (collect ? "" : " (Hessians saved before; forward only)"));
    }
    states.unpersist(false);
  }

  private static int count(boolean[] need) {
    int n = 0;
    for (boolean b : need) {
      n += b ? 1 : 0;
    }
    return n;
  }

  /**
   * Chunk c holds blocks [c·B/P, (c+1)·B/P) of the B blocks of {@link HessianBlocks}: P =
   * min(partitions, B) chunks of whole blocks, of near-equal size.
   */
  static List<ChunkWindows> chunks(int[] calibration, int windows, int ctx, int partitions) {
    int blocks = HessianBlocks.count(windows);
    int p = Math.min(partitions, blocks);
    List<ChunkWindows> out = new ArrayList<>();
    for (int c = 0; c < p; c++) {
      int firstBlock = (int) ((long) c * blocks / p);
      int begin = HessianBlocks.begin(firstBlock);
      int end = HessianBlocks.end((int) ((long) (c + 1) * blocks / p) - 1, windows);
      int[][] w = new int[end - begin][];
      for (int i = begin; i < end; i++) {
        w[i - begin] = Arrays.copyOfRange(calibration, i * ctx, (i + 1) * ctx);
      }
      out.add(new ChunkWindows(c, firstBlock, w));
    }
    return out;
  }

  private static ChunkStates embed(TaskSettings t, ChunkWindows c) {
    t.useTaskThreads();
    try (ModelSource src = t.openModel();
        LlamaModel m = LlamaModel.layerFromSource(src, -1, true, DType.F32)) {
      float[][] hidden = new float[c.windows().length][];
      for (int w = 0; w < hidden.length; w++) {
        hidden[w] = m.embed(c.windows()[w]);
      }
      return new ChunkStates(c.chunk(), c.firstBlock(), hidden);
    }
  }

  /** One layer on one chunk: the next hidden states, and its blocks' Hessians written to scratch. */
  private static ChunkStates forward(TaskSettings t, int layer, boolean collect, boolean keep,
      ChunkStates in) throws IOException {
    if (in.chunk() == 0) {
      t.failOnce().check(FailOnce.hessianTask(layer));
    }
    t.useTaskThreads();
    RunFolder f = t.folder();
    try (ModelSource src = t.openModel();
        LlamaModel m = LlamaModel.layerFromSource(src, layer, false, DType.F32)) {
      // A recomputation after the layer was summed (lost partition, lineage) writes nothing.
      boolean write = collect && !f.hessians().containsLayer(layer);
      if (write) {
        CoreInternals.startHessians(m, layer, layer + 1);
      }
      float[][] out = new float[in.hidden().length][];
      for (int w = 0; w < out.length; w++) {
        out[w] = m.layerForward(layer, in.hidden()[w]);
        // The chunk starts at a block's first window, so its blocks close where a run's would.
        if (write && HessianBlocks.closesBlock(w, out.length)) {
          HadoopHessianStore partial =
              f.partialSums(layer, in.firstBlock() + w / HessianBlocks.WINDOWS);
          for (LinearGroup g : LinearGroup.values()) {
            partial.write(layer, g, CoreInternals.hessian(m, layer, g));
          }
          if (w + 1 < out.length) {
            CoreInternals.startHessians(m, layer, layer + 1); // the next block starts from zero
          }
        }
      }
      return new ChunkStates(in.chunk(), in.firstBlock(), keep ? out : new float[0][]);
    }
  }

  /** The block sums 0, 1, 2, ... of one group added in that order (HessianBlocks), into the store. */
  private static void sumBlocks(TaskSettings t, int layer, LinearGroup g, int blocks)
      throws IOException {
    RunFolder f = t.folder();
    HadoopHessianStore store = f.hessians();
    if (store.contains(layer, g)) {
      return; // a retried or duplicate task
    }
    HessianBlocks.Total total = new HessianBlocks.Total();
    for (int b = 0; b < blocks; b++) {
      total.add(f.partialSums(layer, b).read(layer, g));
    }
    store.write(layer, g, total.result());
  }
}
