package io.github.quipsharp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.BlockTuner;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.JsonFiles;
import io.github.quipsharp.internal.LayerState;
import io.github.quipsharp.internal.OutputFolders;
import io.github.quipsharp.internal.QuantizedGroup;
import io.github.quipsharp.internal.SettingsDiff;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.Tensor;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Whole-model QuIP# quantization (QUIPSHARP.md §1): Hessians of every linear group's input from the
 * fp model on calibration windows (§1.2), then every group of every block through {@link Quantizer}
 * (q,k,v and up,gate stacked after row normalization, §1.4), embeddings, norms and the output layer
 * kept in fp16. Each finished piece is written under {@code out/.partial/} (Hessians, then one shard
 * per layer group) so that an interrupted run resumes where it stopped and assembles a checkpoint
 * identical to an uninterrupted run; the checkpoint appears only when complete.
 */
public final class ModelQuantizer {
  /** The folder under {@code out} that holds an unfinished run (run.json, hessians/, layers/). */
  public static final String PARTIAL = ".partial";
  private static final ObjectMapper JSON = new ObjectMapper();

  private ModelQuantizer() {}

  /**
   * Settings of a run beyond the per-matrix {@link QuantConfig}.
   *
   * @param allowLongerContext accept a {@code ctx} beyond the model's context length
   *     (max_position_embeddings), which it was never trained for; refused otherwise
   */
  public record Options(int ctx, int samples, boolean resume, ProgressListener listener,
      BlockTuner tuner, boolean allowLongerContext) {
    public Options {
      if (ctx < 2) {
        throw new IllegalArgumentException("ctx = " + ctx + " must be at least 2");
      }
      if (samples < 0) {
        throw new IllegalArgumentException("samples = " + samples + " must be >= 0 (0 = all)");
      }
      listener = listener == null ? ProgressListener.NONE : listener;
    }

    /** Windows within the model's context length. */
    public Options(int ctx, int samples, boolean resume, ProgressListener listener,
        BlockTuner tuner) {
      this(ctx, samples, resume, listener, tuner, false);
    }

    /** Without blockwise fine-tuning. */
    public Options(int ctx, int samples, boolean resume, ProgressListener listener) {
      this(ctx, samples, resume, listener, null);
    }

    /** The same settings with blockwise fine-tuning by {@code tuner} (null: none). */
    public Options withTuner(BlockTuner tuner) {
      return new Options(ctx, samples, resume, listener, tuner, allowLongerContext);
    }

    /** The same settings reporting to {@code listener}. */
    public Options withListener(ProgressListener listener) {
      return new Options(ctx, samples, resume, listener, tuner, allowLongerContext);
    }

    /** The same settings, accepting (or not) a ctx beyond the model's context length. */
    public Options withAllowLongerContext(boolean allow) {
      return new Options(ctx, samples, resume, listener, tuner, allow);
    }

    /** 256-token windows, all of them, no resume. */
    public static Options defaults() {
      return new Options(256, 0, false, ProgressListener.NONE);
    }
  }

  /**
   * Quantizes the model at {@code modelPath} with Hessians from {@code calibration} (token ids; cut
   * into windows of {@code ctx} tokens, each run from position 0) and writes the checkpoint folder
   * {@code out}. Returns what was done.
   *
   * <p>Everything that can be refused is checked before the first listener call: the model, the
   * context length, the output folder, a resumed run's settings and model files, and that the
   * tensors kept in fp16 fit it. A run that then fails before its first layer group is written
   * removes what it created; one that fails later keeps {@code out/.partial}, which {@code resume}
   * continues (or deleting {@code out} starts over).
   *
   * @throws IllegalArgumentException if the calibration tokens do not fill one window, ctx exceeds
   *     the model's context length (unless allowed), or {@code out} holds another run (without
   *     resume) or a run with other settings or another model (the message names what differs)
   * @throws ModelFormatException for a bad model, or a tensor kept in fp16 that does not fit it
   * @throws NonFiniteActivationException when the model's activations overflow on the calibration
   *     text (naming the first layer where they do)
   */
  public static QuantizationInfo quantize(
      Path modelPath, int[] calibration, QuantConfig cfg, Path out, Options opt) {
    Checks.notNull(modelPath, "modelPath");
    Checks.notNull(calibration, "calibration");
    Checks.notNull(cfg, "cfg");
    Checks.notNull(out, "out");
    Checks.notNull(opt, "opt");
    int windows = calibration.length / opt.ctx();
    if (windows == 0) {
      throw new IllegalArgumentException("calibration text is too short: " + calibration.length
          + " tokens do not fill one window of ctx = " + opt.ctx() + " tokens");
    }
    if (opt.samples() > 0) {
      windows = Math.min(windows, opt.samples());
    }
    try (ModelSource src = ModelSource.open(modelPath)) {
      requireContext(src.config(), opt.ctx(), opt.allowLongerContext(), "--ctx");
      return new Run(src, calibration, windows, cfg, out, opt).run();
    } catch (IOException e) {
      throw new UncheckedIOException(OutputFolders.describe("cannot write " + out, e), e);
    }
  }

  /**
   * Heap that quantizing a layer group holds at once (§1.4): the members as read, stacked and as
   * the original, and the decoded result (4 bytes each per weight), the Hessian sum (8 bytes per
   * entry of the n x n matrix) and its mean (4). A lower bound: more is live at times.
   */
  static long groupHeapBytes(LlamaConfig c, LinearGroup g) {
    long n = g.cols(c);
    return 16L * g.rows(c) * n + 12L * n * n;
  }

  /**
   * Refuses up front a model whose largest layer group cannot be quantized in {@code heap} bytes
   * (it would fail with an out-of-memory error hours later, after the Hessians).
   */
  static void requireHeap(LlamaConfig c, long heap) {
    LinearGroup g = Arrays.stream(LinearGroup.values())
        .max(java.util.Comparator.comparingLong(x -> groupHeapBytes(c, x))).orElseThrow();
    long need = groupHeapBytes(c, g);
    if (need > heap) {
      throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "quantizing layer "
          + "group %s (%d x %d) needs at least %.1f GiB of Java heap (its weights and %d x %d "
          + "Hessian), more than this JVM's %.1f GiB: give Java more heap (java -Xmx<size>)",
          g.key(), g.rows(c), g.cols(c), need / (double) (1L << 30), g.cols(c), g.cols(c),
          heap / (double) (1L << 30)));
    }
  }

  /**
   * Refuses windows longer than the model's context length (max_position_embeddings): the model
   * never saw such positions, and its results there are not what it was measured for.
   *
   * @param flag how the caller names the length (e.g. "--ctx", "ctx")
   */
  public static void requireContext(LlamaConfig c, int length, boolean allowLonger, String flag) {
    if (length > c.maxSeqLen() && !allowLonger) {
      throw new IllegalArgumentException(flag + " " + length + " exceeds the model's context length "
          + c.maxSeqLen() + " (max_position_embeddings); use at most " + c.maxSeqLen()
          + ", or --allow-longer-context to run past it anyway");
    }
  }

  /** The warning of a quantization whose windows run past the model's context length. */
  public static String longerContextWarning(LlamaConfig c, int ctx) {
    return "warning: --ctx " + ctx + " exceeds the model's context length " + c.maxSeqLen()
        + " (max_position_embeddings): the Hessians come from positions it was never trained for";
  }

  /**
   * What differs between an interrupted run's recorded settings and a new run's, in one line, or
   * null when nothing does ({@link SettingsDiff}).
   */
  public static String resumeMismatch(JsonNode saved, JsonNode now) {
    return SettingsDiff.describe(saved, now);
  }

  /** The per-group seed of the sign vectors: the run's seed mixed with the layer and group. */
  static long groupSeed(long seed, int layer, LinearGroup group) {
    long z = seed + 0x9E3779B97F4A7C15L * (layer * 4L + group.ordinal() + 1);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static final class Run {
    final ModelSource src;
    final LlamaConfig mc;
    final int[] calibration;
    final int windows;
    final QuantConfig cfg;
    final Path out;
    final Path partial;
    final Options opt;

    Run(ModelSource src, int[] calibration, int windows, QuantConfig cfg, Path out, Options opt) {
      this.src = src;
      this.mc = src.config();
      this.calibration = calibration;
      this.windows = windows;
      this.cfg = cfg;
      this.out = out;
      this.partial = out.resolve(PARTIAL);
      this.opt = opt;
    }

    QuantizationInfo run() throws IOException {
      requireHeap(mc, Runtime.getRuntime().maxMemory());
      ObjectNode settings = settings();
      QuantizedCheckpoint.requireDenseFitF16(src);
      boolean createdOut = !Files.exists(out);
      boolean createdPartial = prepareOutput(settings);
      if (opt.ctx() > mc.maxSeqLen()) { // allowed, or requireContext would have refused it
        opt.listener().info(longerContextWarning(mc, opt.ctx()));
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
    void forgetUnstarted(boolean createdOut, boolean createdPartial, Throwable failure) {
      try {
        if (!createdPartial || hasShards()) {
          return;
        }
        deleteTree(partial);
        if (createdOut) {
          try (var entries = Files.list(out)) {
            if (entries.findAny().isEmpty()) {
              Files.delete(out);
            }
          }
        }
      } catch (IOException | RuntimeException e) {
        failure.addSuppressed(e);
      }
    }

    boolean hasShards() throws IOException {
      Path layers = partial.resolve("layers");
      if (!Files.isDirectory(layers)) {
        return false;
      }
      try (var entries = Files.list(layers)) {
        return entries.anyMatch(p -> p.getFileName().toString().endsWith(".safetensors"));
      }
    }

    QuantizationInfo quantizeAll(ObjectNode settings) throws IOException {
      collectHessians();
      int total = mc.layers() * LinearGroup.values().length;
      int index = 0;
      boolean tunerStarted = false;
      for (int l = 0; l < mc.layers(); l++) {
        if (opt.tuner() != null && !layerDone(l)) {
          if (!tunerStarted) {
            opt.tuner().start(src, calibration, opt.ctx(), windows, opt.listener(), tunerDir());
            tunerStarted = true;
          }
          quantizeTunedLayer(l, index, total);
          index += LinearGroup.values().length;
          continue;
        }
        for (LinearGroup g : LinearGroup.values()) {
          Path shard = shardPath(l, g);
          boolean resumed = Files.exists(shard);
          if (!resumed) {
            opt.listener().layerStarted(l, g, index, total);
            GroupResult r = quantizeGroup(l, g, readMembers(l, g));
            QuantizedCheckpoint.writeShard(shard, r.group(), r.report());
          }
          LayerReport r = QuantizedCheckpoint.readShardReport(shard, l, g, cfg);
          opt.listener().layerFinished(r, index, total, resumed);
          index++;
        }
      }
      ObjectNode recorded = settings;
      JsonNode tuning = opt.tuner() != null ? opt.tuner().record(tunerDir()) : null;
      if (tuning != null) {
        recorded = settings.deepCopy();
        recorded.set("blockwise_finetune_record", tuning);
      }
      QuantizationInfo info = ModelQuantizer.assemble(src, cfg, recorded, partial, out);
      opt.listener().info("wrote " + out);
      deleteTree(partial);
      return info;
    }

    ObjectNode settings() {
      ObjectNode s = ModelQuantizer.settings(src, cfg, opt.ctx(), windows, calibration);
      if (opt.tuner() != null) {
        s.set("blockwise_finetune", opt.tuner().settings());
      }
      return s;
    }

    /** Checks the output folder (see {@link #quantize}); true when it starts a new run. */
    boolean prepareOutput(ObjectNode settings) throws IOException {
      Path runFile = partial.resolve("run.json");
      OutputFolders.requireFolderOrAbsent(out, "--out");
      if (Files.exists(partial)) {
        if (!opt.resume()) {
          throw new IllegalArgumentException(out + " holds an interrupted run; pass --resume to "
              + "continue it, choose another --out, or delete " + out + " to start over");
        }
        JsonNode saved = Files.exists(runFile) ? JsonFiles.read(runFile) : null;
        String differs = saved == null ? "it has no run.json"
            : resumeMismatch(saved, JSON.readTree(JSON.writeValueAsString(settings)));
        if (differs != null) {
          throw new IllegalArgumentException("cannot resume in " + out + ": the interrupted run "
              + "used other settings: " + differs + " (use the same ones, or delete " + out
              + " to start over)");
        }
        opt.listener().info("resuming the interrupted run in " + out);
        return false;
      }
      OutputFolders.createEmpty(out, partial, "--out");
      AtomicFiles.write(runFile, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(settings));
      return true;
    }

    /** The blockwise tuner's work folder (see {@link BlockTuner#start}). */
    Path tunerDir() {
      return partial.resolve("blockwise");
    }

    Path hessianPath(int layer, LinearGroup g) {
      return ModelQuantizer.hessianPath(partial, layer, g);
    }

    Path shardPath(int layer, LinearGroup g) {
      return ModelQuantizer.shardPath(partial, layer, g);
    }

    /**
     * Whether a layer is finished: all four shards, and with blockwise tuning also the norms
     * shard, which is written last.
     */
    boolean layerDone(int layer) {
      if (opt.tuner() != null && !Files.exists(QuantizedCheckpoint.normsShard(partial, layer))) {
        return false;
      }
      return Arrays.stream(LinearGroup.values()).allMatch(g -> Files.exists(shardPath(layer, g)));
    }

    /**
     * §6.2: qkv → tune → o → tune → up → tune → down, each group quantized from the weights the
     * previous tuning left; the layer's shards and norms are written when all four are done.
     */
    void quantizeTunedLayer(int layer, int index, int total) throws IOException {
      LayerState state = LayerState.fromSource(src, layer);
      LayerReport[] reports = new LayerReport[LinearGroup.values().length];
      for (LinearGroup g : LinearGroup.values()) {
        opt.listener().layerStarted(layer, g, index + g.ordinal(), total);
        float[] w = state.denseWeight(g);
        int cols = g.cols(mc);
        int[] rows = g.memberRows(mc);
        float[][] members = new float[rows.length][];
        int off = 0;
        for (int i = 0; i < rows.length; i++) {
          members[i] = Arrays.copyOfRange(w, off, off + rows[i] * cols);
          off += rows[i] * cols;
        }
        GroupResult r = quantizeGroup(layer, g, members);
        state.setQuantized(g, r.group());
        reports[g.ordinal()] = r.report();
        opt.listener().layerFinished(r.report(), index + g.ordinal(), total, false);
        if (g != LinearGroup.DOWN) {
          opt.tuner().tune(state, g, opt.listener());
        }
      }
      for (LinearGroup g : LinearGroup.values()) {
        QuantizedCheckpoint.writeShard(shardPath(layer, g), state.quantized(g), reports[g.ordinal()]);
      }
      QuantizedCheckpoint.writeNormsShard(partial, layer, state);
    }

    /** §1.2 on the fp model, in layer chunks whose accumulators fit a 2 GiB budget. */
    void collectHessians() throws IOException {
      List<Integer> missing = new ArrayList<>();
      for (int l = 0; l < mc.layers(); l++) {
        for (LinearGroup g : LinearGroup.values()) {
          if (!Files.exists(hessianPath(l, g))) {
            missing.add(l);
            break;
          }
        }
      }
      // Once a layer's quantized shards all exist its Hessians are no longer needed.
      missing.removeIf(this::layerDone);
      if (missing.isEmpty()) {
        return;
      }
      long perLayer = 0; // bytes of one layer's fp64 accumulators
      for (LinearGroup g : LinearGroup.values()) {
        perLayer += 8L * g.cols(mc) * g.cols(mc);
      }
      int chunk = (int) Math.max(1, Math.min(mc.layers(), (2L << 30) / perLayer));
      opt.listener().info("collecting Hessians of " + missing.size() + " layers on " + windows
          + " windows of " + opt.ctx() + " tokens");
      try (LlamaModel fp = LlamaModel.fromSource(src, DType.F32)) {
        for (int i = 0; i < missing.size(); ) {
          int begin = missing.get(i);
          int end = begin;
          while (i < missing.size() && missing.get(i) == end && end - begin < chunk) {
            end++;
            i++;
          }
          fp.startHessians(begin, end);
          int[] window = new int[opt.ctx()];
          for (int w = 0; w < windows; w++) {
            System.arraycopy(calibration, w * opt.ctx(), window, 0, opt.ctx());
            String where = "calibration window " + w + " (tokens " + (long) w * opt.ctx() + ".."
                + ((long) (w + 1) * opt.ctx() - 1) + ")";
            NonFiniteActivationException.checkedForward(fp, window, 0, false, () -> {
              fp.stopHessians(); // the diagnostic pass must not add to them
              return window;
            }, where);
            opt.listener().hessianProgress(w + 1, windows);
          }
          for (int l = begin; l < end; l++) {
            for (LinearGroup g : LinearGroup.values()) {
              writeHessian(hessianPath(l, g), fp.hessian(l, g));
            }
          }
          fp.stopHessians();
        }
      }
    }

    void writeHessian(Path file, LlamaModel.HessianSum h) throws IOException {
      ModelQuantizer.writeHessian(file, h);
    }

    LlamaModel.HessianSum readHessian(int layer, LinearGroup g) {
      return ModelQuantizer.readHessian(hessianPath(layer, g));
    }

    float[][] readMembers(int layer, LinearGroup g) {
      return ModelQuantizer.readMembers(src, layer, g);
    }

    GroupResult quantizeGroup(int layer, LinearGroup g, float[][] ws) {
      return quantizeMembers(mc, layer, g, ws, readHessian(layer, g), cfg);
    }
  }

  /** The member weights of a group as the model file holds them. */
  static float[][] readMembers(ModelSource src, int layer, LinearGroup g) {
    String[] members = g.members();
    float[][] ws = new float[members.length][];
    for (int i = 0; i < members.length; i++) {
      ws[i] = src.tensor("model.layers." + layer + "." + members[i] + ".weight").toFloats();
    }
    return ws; // one layer group at a time lives in the heap
  }

  /**
   * §1.4 on one group's member weights (rows of each as the config gives) with its Hessian sum:
   * members divided by their RMS and stacked, the group's own seed from {@link #groupSeed}; returns
   * the stored form and the report. The same inputs give the same result.
   */
  static GroupResult quantizeMembers(LlamaConfig mc, int layer, LinearGroup g, float[][] ws,
      LlamaModel.HessianSum hs, QuantConfig cfg) {
    int cols = g.cols(mc);
    int[] memberRows = g.memberRows(mc);
    int rows = g.rows(mc);
    // §1.4 step 1: each member divided by its RMS, then stacked.
    float[] stacked = new float[Checks.product(rows, cols, "stacked weight")];
    float[] original = new float[stacked.length];
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
        original[offset + j] = ws[i][j];
      }
      offset += ws[i].length;
    }
    float[] h = hs.mean();
    if (h == null) {
      throw new IllegalStateException("layer " + layer + " " + g.key() + ": no calibration token "
          + "reached this layer");
    }
    long seed = groupSeed(cfg.seed(), layer, g);
    QuantConfig gc = cfg.toBuilder().seed(seed).build();
    try (QuantizedLinear q = Quantizer.quantize(stacked, rows, cols, h, gc)) {
      // The stored form (§1.4 step 8): SV = s_out·Wscale (·r_1 when unfused), fp16.
      float[] sv = q.signsOut();
      boolean fused = ws.length > 1;
      for (int i = 0; i < sv.length; i++) {
        sv[i] = (float) (sv[i] * q.scale() * (fused ? 1.0 : rms[0]));
      }
      // Checked before the fp16 rounding below, so that the message shows the real value.
      String where = "layer " + layer + " " + g.key();
      QuantizedCheckpoint.requireF16(sv, where + " SV (signs x scale)");
      if (fused) {
        QuantizedCheckpoint.requireF16(rms, where + " fuse_scales (each member's RMS)");
      }
      QuantizedGroup stored = new QuantizedGroup(layer, g, rows, cols, gc, q.codes(),
          QuantizedCheckpoint.roundF16(q.signsIn()), QuantizedCheckpoint.roundF16(sv), 1.0f,
          QuantizedCheckpoint.roundF16(fused ? rms : new float[] {1.0f}));
      // Relative proxy loss at the real scale, with the stored (fp16-rounded) parts.
      double rel;
      try (QuantizedLinear lin = stored.toLinear()) {
        float[] dec = lin.decode();
        float[] fuse = stored.rowFuse(memberRows);
        for (int j = 0; j < dec.length; j++) {
          dec[j] *= fuse[j / cols];
        }
        double loss = Quantizer.proxyLoss(original, dec, rows, cols, h);
        double norm = Quantizer.proxyLoss(original, new float[original.length], rows, cols, h);
        rel = norm > 0 ? loss / norm : 0;
      }
      return new GroupResult(stored, new LayerReport(layer, g, q.shape(), seed, rel));
    }
  }

  /** A quantized group in its stored form and its report. */
  record GroupResult(QuantizedGroup group, LayerReport report) {}

  /**
   * The settings a run records in {@code run.json} and in the checkpoint's config (a resumed run
   * must have the same): model, format, the model's identity (size and {@link
   * io.github.quipsharp.safetensors.ContentDigest} of every weight file and of config.json, and of
   * the tokenizer file beside it; see {@link ModelIdentity}), quantization config, ctx, windows and
   * the calibration's length and hash.
   */
  public static ObjectNode settings(ModelSource src, QuantConfig cfg, int ctx, int windows,
      int[] calibration) {
    ObjectNode s = JSON.createObjectNode();
    s.put("model", src.path().toAbsolutePath().normalize().toString());
    s.put("model_format", src.format());
    s.set("model_files", ModelIdentity.files(src));
    s.set("tokenizer", ModelIdentity.tokenizer(src));
    s.set("quant_config", QuantizedCheckpoint.configJson(cfg));
    s.put("ctx", ctx);
    s.put("windows", windows);
    s.put("calibration_tokens", calibration.length);
    s.put("calibration_hash", Integer.toHexString(Arrays.hashCode(calibration)));
    return s;
  }

  /** Where a run keeps the Hessian sum of one layer group under its {@link #PARTIAL} folder. */
  public static Path hessianPath(Path partial, int layer, LinearGroup g) {
    return partial.resolve("hessians").resolve(layer + "_" + g.key() + ".safetensors");
  }

  /** Where a run keeps the quantized shard of one layer group under its {@link #PARTIAL} folder. */
  public static Path shardPath(Path partial, int layer, LinearGroup g) {
    return partial.resolve("layers").resolve(layer + "_" + g.key() + ".safetensors");
  }

  /** Largest tensor of a Hessian file: one Java buffer holds at most 2 GiB. */
  static final long HESSIAN_BLOCK_BYTES = 1L << 30;

  /**
   * Writes Σ x xᵀ and its token count as one F64 safetensors file (the run's Hessian format):
   * tensor {@code sum} [n, n], or, when that exceeds {@link #HESSIAN_BLOCK_BYTES} (n > 11585, e.g.
   * a 28672-wide down_proj, 6.6 GB), row blocks {@code sum.0}, {@code sum.1}, ... of at most that
   * size in row order.
   */
  public static void writeHessian(Path file, LlamaModel.HessianSum h) throws IOException {
    writeHessian(file, h, HESSIAN_BLOCK_BYTES);
  }

  static void writeHessian(Path file, LlamaModel.HessianSum h, long blockBytes) throws IOException {
    Files.createDirectories(file.getParent());
    int n = h.n();
    long rowBytes = 8L * n;
    int rowsPerBlock = (int) Math.max(1, Math.min(n, blockBytes / rowBytes));
    try (SafetensorsWriter w = SafetensorsWriter.create(file, Map.of("tokens", Long.toString(h.tokens())))) {
      for (int r0 = 0, k = 0; r0 < n; r0 += rowsPerBlock, k++) {
        int rows = Math.min(rowsPerBlock, n - r0);
        ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(rows * rowBytes)).order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(h.sum(), r0 * n, rows * n);
        w.add(rowsPerBlock == n ? "sum" : "sum." + k, DType.F64, new long[] {rows, n}, b);
      }
      w.commit();
    }
  }

  /** Reads a file written by {@link #writeHessian}. */
  public static LlamaModel.HessianSum readHessian(Path file) {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      long tokens = Long.parseLong(f.metadata().getOrDefault("tokens", "0"));
      if (f.contains("sum")) {
        int n = Math.toIntExact(f.info("sum").dim(1));
        double[] sum = new double[Checks.product(n, n, "hessian")];
        f.requireShape("sum", DType.F64, n, n);
        f.map("sum").order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(sum);
        return new LlamaModel.HessianSum(n, sum, tokens);
      }
      if (!f.contains("sum.0")) {
        throw new ModelFormatException(file, "holds neither \"sum\" nor \"sum.0\": not a Hessian file");
      }
      int n = Math.toIntExact(f.info("sum.0").dim(1));
      double[] sum = new double[Checks.product(n, n, "hessian")];
      int r0 = 0;
      for (int k = 0; r0 < n; k++) {
        String name = "sum." + k;
        if (!f.contains(name)) {
          throw new ModelFormatException(file, "row blocks end at row " + r0 + " of " + n);
        }
        int rows = Math.toIntExact(f.info(name).dim(0));
        f.requireShape(name, DType.F64, rows, n);
        if (r0 + rows > n) {
          throw new ModelFormatException(file, name + " runs past row " + n);
        }
        f.map(name).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(sum, r0 * n, rows * n);
        r0 += rows;
      }
      return new LlamaModel.HessianSum(n, sum, tokens);
    }
  }

  /**
   * Quantizes one layer group of {@code src} with its Hessian sum (§1.4: members divided by their
   * RMS and stacked, the group's own seed from {@link #groupSeed}) and writes its shard; returns its
   * report. The same inputs give the same shard bytes.
   */
  public static LayerReport quantizeGroup(ModelSource src, int layer, LinearGroup g,
      LlamaModel.HessianSum hs, QuantConfig cfg, Path shard) throws IOException {
    GroupResult r = quantizeMembers(src.config(), layer, g, readMembers(src, layer, g), hs, cfg);
    QuantizedCheckpoint.writeShard(shard, r.group(), r.report());
    return r.report();
  }

  /**
   * Writes the checkpoint folder {@code out} from the finished shards of every layer group under
   * {@code partial} (the last step of {@link #quantize}; config.json is written last). Returns the
   * shards' reports.
   */
  public static QuantizationInfo assemble(ModelSource src, QuantConfig cfg, ObjectNode settings,
      Path partial, Path out) throws IOException {
    List<LayerReport> reports = new ArrayList<>();
    for (int l = 0; l < src.config().layers(); l++) {
      for (LinearGroup g : LinearGroup.values()) {
        reports.add(QuantizedCheckpoint.readShardReport(shardPath(partial, l, g), l, g, cfg));
      }
    }
    QuantizationInfo info = new QuantizationInfo(cfg, reports);
    QuantizedCheckpoint.assemble(src, info, settings, partial, out);
    return info;
  }

  /** Deletes a local folder and everything in it (nothing if absent). */
  public static void deleteTree(Path dir) throws IOException {
    AtomicFiles.deleteTree(dir);
  }
}
