package io.github.quipsharp.spark;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.safetensors.DType;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;

/**
 * Phase A: the Hessians of §1.2, distributed over calibration windows. The windows are cut into
 * chunks, one per partition. Layer by layer, each task loads that one layer from the model files,
 * runs its chunk's windows through it ({@link LlamaModel#layerForward}: positions from 0, causal
 * attention within the window, the same bits as the whole-model pass), writes its partial Σ x xᵀ
 * (float64) of each group's inputs to the run folder, and keeps its output hidden states for the
 * next layer as a Spark partition persisted on disk. Then one task per row block of each group sums
 * the chunks' partials in chunk order (never in order of task completion), so the result does not
 * depend on scheduling; the driver only writes the layer's token count and holds no Hessian.
 */
final class HessianPhase {
  private HessianPhase() {}

  /** The token windows of one chunk. */
  record ChunkWindows(int chunk, int[][] windows) implements Serializable {}

  /** One chunk's hidden states (window × ctx·dim) entering the next layer. */
  record ChunkStates(int chunk, float[][] hidden) implements Serializable {}

  /** One row block of one group's Hessian. */
  record Block(LinearGroup group, int block, int rowBegin, int rowEnd, int n) implements Serializable {}

  /**
   * Collects the Hessians of every layer {@code l} with {@code need[l]}, running the layers before
   * the last of them (their hidden states are needed even where their Hessians are not).
   */
  static void run(JavaSparkContext sc, TaskSettings t, LlamaConfig mc, int[] calibration, int windows,
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
        int nChunks = chunks.size();
        sc.parallelize(blocks(mc), blocks(mc).size()).foreach(b -> sumBlock(t, layer, b, nChunks));
        writeDone(t.folder(), layer, (long) windows * t.ctx());
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

  /** Chunk c holds windows [c·W/P, (c+1)·W/P): P = min(partitions, W) chunks of near-equal size. */
  static List<ChunkWindows> chunks(int[] calibration, int windows, int ctx, int partitions) {
    int p = Math.min(partitions, windows);
    List<ChunkWindows> out = new ArrayList<>();
    for (int c = 0; c < p; c++) {
      int begin = (int) ((long) c * windows / p);
      int end = (int) ((long) (c + 1) * windows / p);
      int[][] w = new int[end - begin][];
      for (int i = begin; i < end; i++) {
        w[i - begin] = Arrays.copyOfRange(calibration, i * ctx, (i + 1) * ctx);
      }
      out.add(new ChunkWindows(c, w));
    }
    return out;
  }

  static List<Block> blocks(LlamaConfig mc) {
    List<Block> out = new ArrayList<>();
    for (LinearGroup g : LinearGroup.values()) {
      int n = g.cols(mc);
      int rows = RunFolder.blockRows(n);
      for (int b = 0, r = 0; r < n; b++, r += rows) {
        out.add(new Block(g, b, r, Math.min(n, r + rows), n));
      }
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
      return new ChunkStates(c.chunk(), hidden);
    }
  }

  /** One layer on one chunk: the next hidden states, and the partial Hessians written to scratch. */
  private static ChunkStates forward(TaskSettings t, int layer, boolean collect, boolean keep,
      ChunkStates in) throws IOException {
    if (in.chunk() == 0) {
      t.failOnce().check(FailOnce.hessianTask(layer));
    }
    t.useTaskThreads();
    RunFolder f = t.folder();
    try (ModelSource src = t.openModel();
        LlamaModel m = LlamaModel.layerFromSource(src, layer, false, DType.F32)) {
      if (collect) {
        CoreInternals.startHessians(m, layer, layer + 1);
      }
      float[][] out = new float[in.hidden().length][];
      for (int w = 0; w < out.length; w++) {
        out[w] = m.layerForward(layer, in.hidden()[w]);
      }
      // A recomputation after the layer was summed (lost partition, lineage) writes nothing.
      if (collect && !f.exists(f.hessianDone(layer))) {
        for (LinearGroup g : LinearGroup.values()) {
          double[] sum = CoreInternals.hessian(m, layer, g).sum();
          f.write(f.partialSum(layer, g, in.chunk()), o -> writeLittleEndian(o, sum, 0, sum.length));
        }
      }
      return new ChunkStates(in.chunk(), keep ? out : new float[0][]);
    }
  }

  /** Σ over chunks 0, 1, 2, ... (in that order) of one row block of the partial sums. */
  private static void sumBlock(TaskSettings t, int layer, Block b, int chunks) throws IOException {
    RunFolder f = t.folder();
    int len = (b.rowEnd() - b.rowBegin()) * b.n();
    double[] acc = new double[len];
    byte[] buf = new byte[len * 8];
    for (int c = 0; c < chunks; c++) {
      try (FSDataInputStream in = f.fs().open(f.partialSum(layer, b.group(), c))) {
        in.readFully((long) b.rowBegin() * b.n() * 8, buf);
      }
      java.nio.DoubleBuffer d = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
      for (int i = 0; i < len; i++) {
        acc[i] += d.get(i);
      }
    }
    f.write(f.hessianBlock(layer, b.group(), b.block()), o -> writeLittleEndian(o, acc, 0, len));
  }

  /** v[from, to) as little-endian float64, in 1 MiB pieces (a 28672² sum is 6.6 GB: no one buffer). */
  static void writeLittleEndian(java.io.OutputStream o, double[] v, int from, int to) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = from; i < to; ) {
      int k = Math.min(to - i, b.capacity() / 8);
      b.clear();
      b.asDoubleBuffer().put(v, i, k);
      o.write(b.array(), 0, k * 8);
      i += k;
    }
  }

  /** The summed Hessian of one layer group, read back from its row blocks. */
  static LlamaModel.HessianSum read(RunFolder f, int layer, LinearGroup g, int n) {
    try {
      String done = new String(f.read(f.hessianDone(layer)), StandardCharsets.UTF_8);
      long tokens = Long.parseLong(done.replaceAll("[^0-9]", ""));
      double[] sum = new double[n * n];
      int rows = RunFolder.blockRows(n);
      for (int b = 0, r = 0; r < n; b++, r += rows) {
        int len = (Math.min(n, r + rows) - r) * n;
        byte[] buf = new byte[len * 8];
        try (DataInputStream in = new DataInputStream(f.fs().open(f.hessianBlock(layer, g, b)))) {
          in.readFully(buf);
        }
        ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(sum, r * n, len);
      }
      return new LlamaModel.HessianSum(n, sum, tokens);
    } catch (IOException e) {
      throw new UncheckedIOException("reading the Hessian of layer " + layer + " " + g.key()
          + " in " + f.uri() + ": " + e.getMessage(), e);
    }
  }

  /** Writes a Hessian in the same blocks (tests supply known Hessians to Phase B this way). */
  static void write(RunFolder f, int layer, LinearGroup g, LlamaModel.HessianSum h) throws IOException {
    int n = h.n();
    int rows = RunFolder.blockRows(n);
    for (int b = 0, r = 0; r < n; b++, r += rows) {
      int from = r * n;
      int to = Math.min(n, r + rows) * n;
      f.write(f.hessianBlock(layer, g, b), o -> writeLittleEndian(o, h.sum(), from, to));
    }
  }

  static void writeDone(RunFolder f, int layer, long tokens) throws IOException {
    f.write(f.hessianDone(layer), ("{\"tokens\": " + tokens + "}\n").getBytes(StandardCharsets.UTF_8));
  }
}
