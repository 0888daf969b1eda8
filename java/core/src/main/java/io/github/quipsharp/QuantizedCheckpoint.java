package io.github.quipsharp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.HuggingFaceConfig;
import io.github.quipsharp.internal.JsonFiles;
import io.github.quipsharp.internal.LayerState;
import io.github.quipsharp.internal.QuantizedGroup;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.Tensor;
import io.github.quipsharp.model.WeightSpec;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.HalfFloat;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import io.github.quipsharp.safetensors.TensorInfo;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The quantized checkpoint folder (QUIPSHARP.md §8.3): {@code config.json} = the model's Hugging
 * Face config plus {@code quip_params} and a {@code quipsharp} section (format version, settings,
 * seed, RoPE convention, per-group shapes with their padding and relative proxy losses);
 * {@code model.safetensors} with, per layer {@code model.layers.i.}, the groups
 * {@code self_attn.qkv_proj}, {@code self_attn.o_proj}, {@code mlp.upgate_proj},
 * {@code mlp.down_proj} as {@code Qidxs} (int64, packed §8.4), {@code SU}, {@code SV} (fp16,
 * Wscale fused), {@code Wscale}, {@code codebook_id} and {@code fuse_scales} for the stacked groups;
 * embeddings, norms and {@code lm_head} in fp16; and the model's tokenizer file.
 */
public final class QuantizedCheckpoint {
  /** The format version this code writes and the newest it reads. */
  public static final int FORMAT_VERSION = 1;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] CODEBOOKS = {"E8P12", "E8P12RVQ3B", "E8P12RVQ4B"};
  private static final int[] CODEBOOK_VERSIONS = {1, 0, 1};
  private static final double[] PACKSZ = {4, 2.6667, 2};

  private QuantizedCheckpoint() {}

  /** Whether {@code path} is a folder whose config.json has {@code quip_params}. */
  public static boolean isCheckpoint(Path path) {
    Path config = path.resolve("config.json");
    if (!Files.isDirectory(path) || !Files.exists(config)) {
      return false;
    }
    return JsonFiles.read(config).has("quip_params");
  }

  static float roundF16(float v) {
    return HalfFloat.toFloat(HalfFloat.fromFloat(v));
  }

  /** Each value rounded to fp16 (the pipeline's, through {@code CoreInternals}). */
  static float[] roundF16(float[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = roundF16(v[i]);
    }
    return out;
  }

  /**
   * The {@code quant_config} JSON object of {@code c}, as text (what run.json and config.json
   * record); the pipeline's, through {@code CoreInternals}.
   */
  static String quantConfigJson(QuantConfig c) {
    return configJson(c).toString();
  }

  static ObjectNode configJson(QuantConfig c) {
    ObjectNode o = JSON.createObjectNode();
    o.put("bits", c.bits());
    o.put("seed", c.seed());
    o.put("rounding", c.rounding().name().toLowerCase(java.util.Locale.ROOT));
    o.put("refine_passes", c.refinePasses());
    o.put("damping", c.damping());
    o.put("scale", c.scale());
    o.put("residual_scale", c.residualScale());
    o.put("incoherence", c.incoherence());
    return o;
  }

  static QuantConfig configFrom(JsonNode o, Path file) {
    try {
      return QuantConfig.builder()
          .bits(o.path("bits").asInt())
          .seed(o.path("seed").asLong(0))
          .rounding(o.path("rounding").asText("ldlq").equals("nearest") ? Rounding.NEAREST
              : Rounding.BLOCK_LDLQ)
          .refinePasses(o.path("refine_passes").asInt(0))
          .damping(o.path("damping").asDouble(0.01))
          .scale(o.path("scale").asDouble(0))
          .residualScale(o.path("residual_scale").asDouble(0))
          .incoherence(o.path("incoherence").asBoolean(true))
          .build();
    } catch (IllegalArgumentException e) {
      throw new ModelFormatException(file, "quipsharp.quant_config: " + e.getMessage(), e);
    }
  }

  private static ObjectNode reportJson(LayerReport r) {
    ObjectNode o = JSON.createObjectNode();
    QuantShape s = r.shape();
    o.put("layer", r.layer());
    o.put("group", r.group().key());
    o.put("rows", s.rows());
    o.put("cols", s.cols());
    o.put("rht_rows", s.rhtRows());
    o.put("rht_cols", s.rhtCols());
    o.put("code_cols", s.codeCols());
    o.put("packed_rows", s.packedRows());
    o.put("packed_cols", s.packedCols());
    o.put("padded", s.isPadded());
    o.put("seed", r.seed());
    o.put("relative_proxy_loss", r.relativeProxyLoss());
    return o;
  }

  private static LayerReport reportFrom(JsonNode o, QuantConfig cfg, Path file) {
    int rows = o.path("rows").asInt();
    int cols = o.path("cols").asInt();
    QuantShape shape = QuantShape.of(rows, cols, cfg.incoherence());
    if (shape.rhtRows() != o.path("rht_rows").asInt() || shape.rhtCols() != o.path("rht_cols").asInt()
        || shape.codeCols() != o.path("code_cols").asInt()) {
      throw new ModelFormatException(file, "layer " + o.path("layer") + " " + o.path("group")
          + ": recorded padded shape differs from this version's rule " + shape.describe());
    }
    return new LayerReport(o.path("layer").asInt(), LinearGroup.ofKey(o.path("group").asText()),
        shape, o.path("seed").asLong(), o.path("relative_proxy_loss").asDouble());
  }

  // ---- shards of a run (one layer group each) -------------------------------------------------

  /** Writes one layer group's shard with its report (the pipeline's, through {@code CoreInternals}). */
  static void writeShard(Path shard, QuantizedGroup g, LayerReport report) throws IOException {
    String where = "layer " + g.layer() + " " + g.group().key();
    requireF16(g.su(), where + " SU");
    requireF16(g.sv(), where + " SV (signs x scale)");
    requireF16(g.fuse(), where + " fuse_scales (each member's RMS)");
    Files.createDirectories(shard.getParent());
    QuantShape s = g.shape();
    long[] words;
    try (QuantizedLinear q = g.toLinear()) {
      words = q.packedCodes();
    }
    try (SafetensorsWriter w = SafetensorsWriter.create(shard,
        Map.of("report", JSON.writeValueAsString(reportJson(report))))) {
      w.addLongs("Qidxs", DType.I64, new long[] {s.packedRows(), words.length / s.packedRows()}, words);
      w.addFloats("SU", DType.F16, new long[] {g.su().length}, g.su());
      w.addFloats("SV", DType.F16, new long[] {g.sv().length}, g.sv());
      w.addFloats("Wscale", DType.F16, new long[] {}, new float[] {g.wscale()});
      w.addLongs("codebook_id", DType.I64, new long[] {}, new long[] {g.config().codebookId()});
      if (g.fuse().length > 1) {
        w.addFloats("fuse_scales", DType.F16, new long[] {g.fuse().length}, g.fuse());
      }
      w.commit();
    }
  }

  /**
   * The shard of a layer's tuned norms, every norm of the layer under its file name (blockwise
   * fine-tuning writes it after its four groups).
   */
  static Path normsShard(Path partial, int layer) {
    return partial.resolve("layers").resolve(layer + "_norms.safetensors");
  }

  /** Writes {@link #normsShard} from the tuned state (the pipeline's, through {@code CoreInternals}). */
  static void writeNormsShard(Path partial, int layer, LayerState state) throws IOException {
    Path shard = normsShard(partial, layer);
    Files.createDirectories(shard.getParent());
    try (SafetensorsWriter w = SafetensorsWriter.create(shard)) {
      // Every norm of the layer under its file name (Gemma 2's four, Qwen 3's q/k norms included).
      for (WeightSpec s : state.vectorSpecs()) {
        if (s.role().isNorm()) {
          w.addFloats(s.name(), DType.F16, s.shape(), state.norm(s.role()));
        }
      }
      w.commit();
    }
  }

  /** The report stored in a shard, checked against the expected layer and group. */
  static LayerReport readShardReport(Path shard, int layer, LinearGroup g, QuantConfig cfg) {
    try (SafetensorsFile f = SafetensorsFile.open(shard)) {
      String json = f.metadata().get("report");
      if (json == null) {
        throw new ModelFormatException(shard, "has no \"report\" metadata");
      }
      LayerReport r = reportFrom(JSON.readTree(json), cfg, shard);
      if (r.layer() != layer || r.group() != g) {
        throw new ModelFormatException(shard, "holds " + r.name() + ", expected layer " + layer
            + " " + g.key());
      }
      return r;
    } catch (IOException e) {
      throw new ModelFormatException(shard, "report is not valid JSON: " + e.getMessage(), e);
    }
  }

  /**
   * Writes model.safetensors, the tokenizer and (last) config.json from the finished shards
   * (the pipeline's, through {@code CoreInternals}).
   */
  static void assemble(ModelSource src, QuantizationInfo info,
      io.github.quipsharp.pipeline.RunSettings settings, Path partial, Path out) throws IOException {
    LlamaConfig c = src.config();
    Map<String, String> digests;
    try (SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"),
        Map.of("format", "pt", "quipsharp_format_version", Integer.toString(FORMAT_VERSION)))) {
      // The writer orders tensors by name: the order of the adds does not change the file.
      for (WeightSpec s : WeightSpec.all(c)) {
        Path norms = s.layer() >= 0 ? normsShard(partial, s.layer()) : null;
        if (s.role().isNorm() && norms != null && Files.exists(norms)) {
          try (SafetensorsFile f = SafetensorsFile.open(norms)) { // tuned by blockwise fine-tuning
            w.add(s.name(), DType.F16, s.shape(), f.map(s.name()));
          }
        } else if (!s.role().isLinear()) {
          addF16(w, src.tensor(s.name()), src.path());
        }
      }
      for (int l = 0; l < c.layers(); l++) {
        String p = "model.layers." + l + ".";
        for (LinearGroup g : LinearGroup.values()) {
          Path shard = partial.resolve("layers").resolve(l + "_" + g.key() + ".safetensors");
          try (SafetensorsFile f = SafetensorsFile.open(shard)) {
            for (TensorInfo t : f.tensors()) {
              w.add(p + g.checkpointName() + "." + t.name(), t.dtype(), t.shape(), f.map(t.name()));
            }
          }
        }
      }
      w.commit();
      digests = w.digests();
    }
    copyTokenizer(src.path(), out);
    ObjectNode config = configFile(c, info, settings);
    CheckpointIntegrity.record(config, digests);
    AtomicFiles.write(out.resolve("config.json"),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(config));
  }

  /**
   * Copies the tokenizer of the model or checkpoint at {@code from} (the search of
   * Tokenizer.forModel), with its companion files, into the folder {@code out}; one without a
   * tokenizer stays without, and --tokenizer names it later.
   */
  private static void copyTokenizer(Path from, Path out) throws IOException {
    Path tok;
    try {
      tok = Tokenizer.locate(from);
    } catch (ModelFormatException e) {
      return;
    }
    AtomicFiles.copy(tok, out.resolve(tok.getFileName()));
    // BOS/EOS, the chat template and the end-of-turn ids of a tokenizer.json live beside it.
    for (Path companion : Tokenizer.companionFiles(tok)) {
      AtomicFiles.copy(companion, out.resolve(companion.getFileName()));
    }
  }

  private static void addF16(SafetensorsWriter w, Tensor t, Path file) throws IOException {
    w.add(t.name(), DType.F16, t.shape(), toF16(t, file, true));
  }

  /**
   * The tensor's values as fp16 bytes — the type of the checkpoint's embeddings, norms and head.
   *
   * @throws ModelFormatException naming the tensor and the first value that is not finite or
   *     does not fit fp16 (|v| rounds beyond 65504), instead of writing an infinity
   */
  static ByteBuffer toF16(Tensor t, Path file, boolean convert) {
    long count = t.elementCount();
    ByteBuffer in = t.data().duplicate().order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer b = t.dtype() == DType.F16 || !convert ? null
        : ByteBuffer.allocateDirect(Math.toIntExact(count * 2)).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < count; i++) {
      float v = switch (t.dtype()) {
        case F32 -> in.getFloat(4 * i);
        case BF16 -> HalfFloat.bf16ToFloat(in.getShort(2 * i));
        default -> HalfFloat.toFloat(in.getShort(2 * i));
      };
      short h = HalfFloat.fromFloat(v);
      if (!Float.isFinite(HalfFloat.toFloat(h))) {
        String what = Float.isFinite(v) ? "the value " + v + ", beyond fp16's range (+-65504),"
            : "a non-finite value (" + v + ")";
        throw new ModelFormatException(file, "tensor " + t.name() + " has " + what + " at index "
            + i + ": the checkpoint stores embeddings, norms and the head in fp16, so this model "
            + "cannot be quantized as it is");
      }
      if (b != null) {
        b.putShort(2 * i, h);
      }
    }
    return b != null ? b : t.data();
  }

  /**
   * Checks, before any work, that the tensors the checkpoint keeps in fp16 (embedding, norms, head)
   * fit it; see {@link #toF16}.
   */
  static void requireDenseFitF16(ModelSource src) {
    for (WeightSpec s : WeightSpec.all(src.config())) {
      if (!s.role().isLinear()) {
        toF16(src.tensor(s.name()), src.path(), false);
      }
    }
  }

  /**
   * Checks that values stored as fp16 stay finite; {@code what} names them in the error.
   *
   * @throws IllegalStateException for the first value that is not finite in fp16
   */
  static void requireF16(float[] values, String what) {
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(HalfFloat.toFloat(HalfFloat.fromFloat(values[i])))) {
        throw new IllegalStateException(what + ": the value " + values[i] + " at index " + i
            + " does not fit fp16 (+-65504), the type the checkpoint stores it in; the weights are "
            + "too large to quantize");
      }
    }
  }

  private static ObjectNode configFile(LlamaConfig c, QuantizationInfo info,
      io.github.quipsharp.pipeline.RunSettings settings) {
    ObjectNode o = HuggingFaceConfig.toJson(c);
    int cb = info.config().bits() - 2;
    ObjectNode qp = o.putObject("quip_params");
    qp.put("codebook", CODEBOOKS[cb]);
    qp.put("codebook_version", CODEBOOK_VERSIONS[cb]);
    qp.put("codesz", 8);
    qp.put("idx_dtype", "torch.int64");
    qp.put("packsz", PACKSZ[cb]);
    qp.put("lora_rank", 0);
    qp.put("rescale_WH", false);
    qp.put("resid_scale_override", info.config().residualScale() > 0 ? info.config().residualScale() : -1);
    qp.put("model_version", 1);
    o.put("torch_dtype", "float16");
    ObjectNode qs = (ObjectNode) o.get("quipsharp");
    qs.put("format_version", FORMAT_VERSION);
    qs.set("quant_config", configJson(info.config()));
    qs.put("source_model", settings.model());
    qs.put("source_format", settings.modelFormat());
    ObjectNode cal = qs.putObject("calibration");
    cal.put("ctx", settings.ctx());
    cal.put("windows", settings.windows());
    cal.put("tokens", settings.calibrationTokens());
    qs.put("padded", info.anyPadded());
    if (settings.blockwise() != null) {
      qs.set("blockwise_finetune", settings.blockwise());
    }
    if (settings.blockwiseRecord() != null) {
      qs.set("blockwise_finetune_record", settings.blockwiseRecord());
    }
    ArrayNode layers = qs.putArray("layers");
    for (LayerReport r : info.layers()) {
      layers.add(reportJson(r));
    }
    return o;
  }

  // ---- reading ------------------------------------------------------------------------------

  /**
   * The checkpoint's settings and reports, without loading weights (config.json's fields are
   * checked against their digests when it has them).
   */
  public static QuantizationInfo readInfo(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode json = JsonFiles.read(file);
    QuantConfig cfg = checkHeader(json, file);
    List<LayerReport> reports = reports(json, cfg, HuggingFaceConfig.read(json, file), file);
    CheckpointIntegrity integrity = CheckpointIntegrity.read(json, file);
    if (integrity != null) {
      integrity.checkConfig(json);
    }
    return new QuantizationInfo(cfg, reports);
  }

  /**
   * The per-group reports of {@code quipsharp.layers}, which must list every group of every layer
   * once (a checkpoint whose list is cut would otherwise show part of the model without comment).
   * The reference layout (§8.3) has no list; an absent list gives no reports.
   */
  private static List<LayerReport> reports(JsonNode json, QuantConfig cfg, LlamaConfig c, Path file) {
    List<LayerReport> reports = new ArrayList<>();
    JsonNode list = json.path("quipsharp").path("layers");
    if (list.isMissingNode()) {
      return reports;
    }
    if (!list.isArray()) {
      throw new ModelFormatException(file, "quipsharp.layers is not a list");
    }
    int groups = LinearGroup.values().length;
    boolean[] seen = new boolean[c.layers() * groups];
    for (JsonNode r : list) {
      LayerReport report = reportFrom(r, cfg, file);
      if (report.layer() < 0 || report.layer() >= c.layers()) {
        throw new ModelFormatException(file, "quipsharp.layers names layer " + report.layer()
            + " of a " + c.layers() + "-layer model");
      }
      int i = report.layer() * groups + report.group().ordinal();
      if (seen[i]) {
        throw new ModelFormatException(file, "quipsharp.layers lists " + report.name() + " twice");
      }
      seen[i] = true;
      reports.add(report);
    }
    if (reports.size() != seen.length) {
      List<String> missing = new ArrayList<>();
      for (int i = 0; i < seen.length; i++) {
        if (!seen[i]) {
          missing.add(i / groups + " " + LinearGroup.values()[i % groups].key());
        }
      }
      throw new ModelFormatException(file, "quipsharp.layers lists " + reports.size() + " of the "
          + seen.length + " layer groups of a " + c.layers() + "-layer model (missing: "
          + String.join(", ", missing.subList(0, Math.min(8, missing.size())))
          + (missing.size() > 8 ? ", ..." : "") + ")");
    }
    return reports;
  }

  private static QuantConfig checkHeader(JsonNode json, Path file) {
    JsonNode qp = json.path("quip_params");
    if (!qp.isObject()) {
      throw new ModelFormatException(file, "has no quip_params: not a quantized checkpoint");
    }
    JsonNode qs = json.path("quipsharp");
    int version = qs.path("format_version").asInt(FORMAT_VERSION);
    if (version > FORMAT_VERSION) {
      throw new ModelFormatException(file, "was written by a newer quipsharp (checkpoint format "
          + "version " + version + "; this version reads up to " + FORMAT_VERSION + ")");
    }
    String codebook = qp.path("codebook").asText();
    int cb = java.util.Arrays.asList(CODEBOOKS).indexOf(codebook);
    if (cb < 0) {
      throw new ModelFormatException(file, "quip_params.codebook \"" + codebook + "\" is not one of "
          + String.join(", ", CODEBOOKS));
    }
    if (qp.path("codebook_version").asInt(-1) != CODEBOOK_VERSIONS[cb]) {
      throw new ModelFormatException(file, "quip_params.codebook_version " + qp.path("codebook_version")
          + " of " + codebook + " is not the supported version " + CODEBOOK_VERSIONS[cb]);
    }
    checkQuipParams(qp, cb, file);
    QuantConfig cfg = qs.has("quant_config") ? configFrom(qs.get("quant_config"), file)
        : QuantConfig.builder().bits(cb + 2).build();
    if (cfg.bits() != cb + 2) {
      throw new ModelFormatException(file, "quant_config bits " + cfg.bits() + " disagree with codebook "
          + codebook);
    }
    // The reference uses resid_scale_override only when > 0 (-1: the codebook's rho2, §4.2); a 2-bit
    // codebook has no residual stage, so there it changes nothing.
    double resid = qp.path("resid_scale_override").asDouble(-1);
    if (resid > 0 && cb > 0 && resid != cfg.residualScale()) {
      cfg = cfg.toBuilder().residualScale(resid).build();
    }
    return cfg;
  }

  /** quip_params keys this loader knows (QUIPSHARP.md §8.3 and the options of §5.5). */
  private static final Set<String> QUIP_PARAMS = Set.of("codebook", "codebook_version", "codesz",
      "idx_dtype", "packsz", "lora_rank", "rescale_WH", "resid_scale_override", "model_version",
      "outlier_channel_split");

  /**
   * The quip_params variants of the reference (QUIPSHARP.md §8.3, §5.5): read where the engine
   * runs them (int64 packed codes; int16 unpacked E8P12 codes; resid_scale_override), else refused
   * by name, one line naming the key and the file. Unknown keys: one warning line.
   */
  private static void checkQuipParams(JsonNode qp, int cb, Path file) {
    String codebook = CODEBOOKS[cb];
    long codesz = quipLong(qp, "codesz", 8, file);
    if (codesz != 8) {
      throw new ModelFormatException(file, "quip_params.codesz " + codesz + " is not supported (" + codebook
          + " codes 8 weights each)");
    }
    String idx = idxDtype(qp, file);
    if (idx.equals("torch.int16") && cb != 0) {
      throw new ModelFormatException(file, "quip_params.idx_dtype torch.int16 (unpacked codes) is supported "
          + "for E8P12 only; " + codebook + " codes are wider than 16 bits");
    }
    if (qp.has("packsz")) {
      double packsz = quipNumber(qp, "packsz", file);
      double want = idx.equals("torch.int16") ? 1 : PACKSZ[cb];
      if (Math.abs(packsz - want) > 1e-3) {
        throw new ModelFormatException(file, "quip_params.packsz " + packsz + " does not match " + codebook
            + " with idx_dtype " + idx + " (" + want + ")");
      }
    }
    long lora = quipLong(qp, "lora_rank", 0, file);
    if (lora != 0) {
      throw new ModelFormatException(file, "quip_params.lora_rank " + lora + " is not supported (the "
          + "low-rank correction, QUIPSHARP.md §5.5; only lora_rank 0 checkpoints load)");
    }
    for (String flag : new String[] {"rescale_WH", "outlier_channel_split"}) {
      JsonNode n = qp.get(flag);
      if (n != null && !n.isNull()) {
        if (!n.isBoolean()) {
          throw new ModelFormatException(file, "quip_params." + flag + " = " + n + " is not a boolean");
        }
        if (n.asBoolean()) {
          throw new ModelFormatException(file, "quip_params." + flag + " = true is not supported (QUIPSHARP.md "
              + "§5.5: only checkpoints quantized without it load)");
        }
      }
    }
    if (qp.has("resid_scale_override") && !qp.get("resid_scale_override").isNull()) {
      double r = quipNumber(qp, "resid_scale_override", file);
      if (!Double.isFinite(r)) {
        throw new ModelFormatException(file, "quip_params.resid_scale_override " + r + " is not finite");
      }
    }
    long version = quipLong(qp, "model_version", 1, file);
    if (version != 1) {
      throw new ModelFormatException(file, "quip_params.model_version " + version + " is not supported "
          + "(this loader reads the layout of model_version 1, QUIPSHARP.md §8.3)");
    }
    List<String> unknown = new ArrayList<>();
    for (java.util.Iterator<String> it = qp.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!QUIP_PARAMS.contains(k)) {
        unknown.add(k);
      }
    }
    if (!unknown.isEmpty()) {
      System.err.println("warning: " + file + ": quip_params " + String.join(", ", unknown)
          + (unknown.size() == 1 ? " is" : " are") + " unknown to this loader and ignored");
    }
  }

  /** quip_params.idx_dtype: "torch.int64" (packed, §8.4; the default) or "torch.int16" (unpacked). */
  private static String idxDtype(JsonNode qp, Path file) {
    JsonNode n = qp.get("idx_dtype");
    String idx = n == null || n.isNull() ? "torch.int64" : n.asText();
    if (!idx.equals("torch.int64") && !idx.equals("torch.int16")) {
      throw new ModelFormatException(file, "quip_params.idx_dtype " + n + " is not supported (torch.int64 "
          + "packed codes, or torch.int16 unpacked E8P12 codes)");
    }
    return idx;
  }

  private static double quipNumber(JsonNode qp, String key, Path file) {
    JsonNode n = qp.get(key);
    if (!n.isNumber()) {
      throw new ModelFormatException(file, "quip_params." + key + " = " + n + " is not a number");
    }
    return n.asDouble();
  }

  private static long quipLong(JsonNode qp, String key, long fallback, Path file) {
    JsonNode n = qp.get(key);
    if (n == null || n.isNull()) {
      return fallback;
    }
    if (!n.isIntegralNumber()) {
      throw new ModelFormatException(file, "quip_params." + key + " = " + n + " is not an integer");
    }
    return n.asLong();
  }

  /** Loads a checkpoint folder into the engine (each tensor checked as {@code options} say). */
  static LlamaModel load(Path dir, LoadOptions options) {
    try (Contents in = open(dir, options)) {
      LlamaConfig c = in.config();
      LlamaModel m = LlamaModel.empty(c);
      try {
        for (WeightSpec s : WeightSpec.all(c)) {
          if (!s.role().isLinear()) {
            TensorInfo t = in.dense(s);
            m.setTensor(new Tensor(s.name(), t.dtype(), t.shape(), in.verifiedMap(s.name())),
                s.role(), Math.max(s.layer(), 0), DType.F16);
          }
        }
        for (int l = 0; l < c.layers(); l++) {
          for (LinearGroup g : LinearGroup.values()) {
            QuantizedGroup q = in.group(l, g);
            try (QuantizedLinear lin = q.toLinear()) {
              m.setQuantized(l, g, lin, q.fuse());
            } catch (IllegalArgumentException e) {
              throw new ModelFormatException(in.file.path(), "layer " + l + " "
                  + g.checkpointName() + ": " + e.getMessage(), e);
            }
          }
        }
        m.setQuantization(in.info());
        return m;
      } catch (RuntimeException e) {
        m.close();
        throw e;
      }
    }
  }

  /**
   * Opens a checkpoint folder for reading its parts: validates config.json and maps
   * model.safetensors (closed with the returned object).
   *
   * @throws ModelFormatException for a missing, corrupt or unsupported checkpoint
   */
  public static Contents open(Path dir) {
    return open(dir, LoadOptions.DEFAULT);
  }

  /**
   * {@link #open(Path)} with the given verification: with {@code options.verify()}, config.json's
   * fields are checked against their digests now, the tensor list at once, and each tensor's bytes
   * when it is first read; a checkpoint without digests gives one warning.
   *
   * @throws ModelFormatException naming the field or tensor that differs from its digest
   */
  public static Contents open(Path dir, LoadOptions options) {
    Checks.notNull(options, "options");
    Path file = dir.resolve("config.json");
    JsonNode json = JsonFiles.read(file);
    // First what the structure says (a newer format, a config that disagrees with the tensors'
    // shapes: those name their own cause), then the digests (a consistent but changed field).
    QuantConfig cfg = checkHeader(json, file);
    CheckpointIntegrity integrity = options.verify() ? CheckpointIntegrity.read(json, file) : null;
    LlamaConfig c = HuggingFaceConfig.read(json, file);
    QuantizationInfo info = new QuantizationInfo(cfg, reports(json, cfg, c, file));
    SafetensorsFile st = SafetensorsFile.open(dir.resolve("model.safetensors"));
    try {
      Contents in = new Contents(dir, json, c, info, st, integrity);
      in.checkShapes();
      if (integrity != null) {
        integrity.checkConfig(json);
        integrity.checkTensorNames(st);
      } else if (options.verify()) {
        options.warnings().accept(dir + " has no digests (written by an older quipsharp or "
            + "another tool): its tensors and config cannot be verified");
      }
      return in;
    } catch (RuntimeException e) {
      st.close();
      throw e;
    }
  }

  /**
   * Checks a checkpoint folder against its digests without loading it into the engine: config.json's
   * fields, the tensor list and every tensor's bytes. Returns what was checked.
   *
   * @throws ModelFormatException naming the first field or tensor that differs, or for a checkpoint
   *     without digests
   */
  public static Verification verify(Path dir) {
    long start = System.nanoTime();
    try (Contents in = open(dir, LoadOptions.DEFAULT.withWarnings(w -> { }))) {
      if (in.integrity == null) {
        throw new ModelFormatException(dir.resolve("config.json"), "has no digests (written by an "
            + "older quipsharp or another tool): nothing to verify");
      }
      long bytes = 0;
      for (TensorInfo t : in.file.tensors()) {
        in.verify(t.name());
        bytes += t.byteSize();
      }
      return new Verification(in.integrity.tensorCount(), bytes, in.integrity.fieldCount(),
          (System.nanoTime() - start) / 1e9);
    }
  }

  /** What {@link #verify} checked: tensors and their bytes, config fields, and the time it took. */
  public record Verification(int tensors, long bytes, int configFields, double seconds) {}

  /** An open checkpoint (see {@link #open}). */
  public static final class Contents implements AutoCloseable {
    private final Path dir;
    private final JsonNode json;
    private final LlamaConfig config;
    private final QuantizationInfo info;
    /** quip_params.idx_dtype torch.int16: Qidxs holds unpacked codes. */
    private final boolean unpackedCodes;
    final SafetensorsFile file;
    private final CheckpointIntegrity integrity; // null: not verified
    private final Set<String> verified = new java.util.HashSet<>();

    private Contents(Path dir, JsonNode json, LlamaConfig config, QuantizationInfo info,
        SafetensorsFile file, CheckpointIntegrity integrity) {
      this.dir = dir;
      this.json = json;
      this.config = config;
      this.info = info;
      this.file = file;
      this.integrity = integrity;
      this.unpackedCodes = json.path("quip_params").path("idx_dtype").asText("").equals("torch.int16");
    }

    /** Checks a tensor against its digest, once, when this checkpoint is verified. */
    void verify(String name) {
      if (integrity != null && verified.add(name)) {
        try {
          integrity.checkTensor(file, name);
        } catch (RuntimeException e) {
          verified.remove(name);
          throw e;
        }
      }
    }

    /** The tensor's mapped bytes, checked against its digest first. */
    ByteBuffer verifiedMap(String name) {
      verify(name);
      return file.map(name);
    }

    public Path dir() {
      return dir;
    }

    /** The parsed config.json (a copy; other modules: {@link CoreInternals#json}). */
    JsonNode json() {
      return json.deepCopy();
    }

    public LlamaConfig config() {
      return config;
    }

    public QuantizationInfo info() {
      return info;
    }

    TensorInfo dense(WeightSpec s) {
      return file.requireShape(s.name(), Set.of(DType.F16, DType.F32, DType.BF16), s.shape());
    }

    /** A kept-dense tensor (embedding, norm, head) as floats, checked against the config. */
    public float[] denseWeight(WeightSpec s) {
      if (s.role().isLinear()) {
        throw new IllegalArgumentException(s.name() + " is quantized in a checkpoint");
      }
      dense(s);
      verify(s.name());
      return file.readFloats(s.name());
    }

    /** Checks every tensor's dtype and shape against the config (the header only). */
    void checkShapes() {
      for (WeightSpec s : WeightSpec.all(config)) {
        if (!s.role().isLinear()) {
          dense(s);
        }
      }
      for (int l = 0; l < config.layers(); l++) {
        for (LinearGroup g : LinearGroup.values()) {
          groupShape(l, g);
        }
      }
    }

    /** Checks one group's tensors' dtypes and shapes; returns the group's padded shape. */
    private QuantShape groupShape(int layer, LinearGroup g) {
      QuantConfig cfg = info.config();
      String p = "model.layers." + layer + "." + g.checkpointName() + ".";
      int rows = g.rows(config);
      int cols = g.cols(config);
      QuantShape s = QuantShape.of(rows, cols, cfg.incoherence());
      if (!unpackedCodes) {
        long words = QuipsharpNative.qs_packed_words(cfg.codebookId(), s.packedRows(), s.packedCols());
        file.requireShape(p + "Qidxs", DType.I64, s.packedRows(), words / s.packedRows());
      } else {
        // idx_dtype torch.int16: one 16-bit E8P12 code (§3.4) per 8 weights, row-major.
        file.requireShape(p + "Qidxs", DType.I16, s.rhtRows(), s.codeCols() / 8);
      }
      file.requireShape(p + "SU", DType.F16, s.rhtCols());
      file.requireShape(p + "SV", DType.F16, s.rhtRows());
      file.requireShape(p + "Wscale", DType.F16);
      file.requireShape(p + "codebook_id", DType.I64);
      if (g.members().length > 1) {
        file.requireShape(p + "fuse_scales", DType.F16, g.members().length);
      }
      return s;
    }

    /**
     * One quantized group, validated (shapes, dtypes, codebook, code range); other modules: {@link
     * CoreInternals#group}.
     */
    QuantizedGroup group(int layer, LinearGroup g) {
      QuantConfig cfg = info.config();
      String p = "model.layers." + layer + "." + g.checkpointName() + ".";
      int rows = g.rows(config);
      int cols = g.cols(config);
      QuantShape s = groupShape(layer, g);
      for (String part : new String[] {"Qidxs", "SU", "SV", "Wscale", "codebook_id"}) {
        verify(p + part);
      }
      long id = file.readLongs(p + "codebook_id")[0];
      if (id != cfg.codebookId()) {
        throw new ModelFormatException(file.path(), "tensor " + p + "codebook_id is " + id
            + " but the config's codebook has id " + cfg.codebookId());
      }
      int members = g.members().length;
      float[] fuse = {1.0f};
      if (members > 1) {
        verify(p + "fuse_scales");
        fuse = file.readFloats(p + "fuse_scales");
      }
      int[] codes;
      try {
        codes = unpackedCodes ? unsigned16(file.readShorts(p + "Qidxs"))
            : QuantizedLinear.unpackCodes(file.readLongs(p + "Qidxs"), s, cfg);
      } catch (IllegalArgumentException e) {
        throw new ModelFormatException(file.path(), "tensor " + p + "Qidxs: " + e.getMessage(), e);
      }
      return new QuantizedGroup(layer, g, rows, cols, cfg, codes, file.readFloats(p + "SU"),
          file.readFloats(p + "SV"), file.readScalarFloat(p + "Wscale"), fuse);
    }

    private static int[] unsigned16(short[] v) {
      int[] out = new int[v.length];
      for (int i = 0; i < v.length; i++) {
        out[i] = v[i] & 0xFFFF;
      }
      return out;
    }

    @Override
    public void close() {
      file.close();
    }
  }

  /**
   * Writes a fine-tuned copy of the checkpoint {@code in} to the folder {@code out} (which may be
   * {@code in}'s own folder: each file is replaced atomically). {@code replace} maps tensor names to
   * new values, stored as fp16: the sign vectors {@code ...SU}/{@code ...SV}, norms, and
   * {@code lm_head.weight}, which unties the head from the embedding when the checkpoint had none.
   * Codes and every other tensor are copied unchanged. {@code finetune} is recorded in config.json
   * under {@code quipsharp.finetune}. Other modules: {@link CoreInternals#writeTuned}.
   */
  static void writeTuned(Contents in, Path out, Map<String, float[]> replace,
      ObjectNode finetune) throws IOException {
    for (Map.Entry<String, float[]> e : replace.entrySet()) {
      requireF16(e.getValue(), "tuned " + e.getKey());
    }
    Files.createDirectories(out);
    LlamaConfig c = in.config();
    String head = "lm_head.weight";
    boolean untie = c.tiedEmbeddings() && replace.containsKey(head);
    Map<String, String> digests;
    try (SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"),
        in.file.metadata())) {
      for (TensorInfo t : in.file.tensors()) {
        float[] v = replace.get(t.name());
        if (v == null) {
          // Verified first: a corrupt tensor must not be copied under a fresh digest.
          w.add(t.name(), t.dtype(), t.shape(), in.verifiedMap(t.name()));
        } else {
          if (v.length != t.elementCount()) {
            throw new IllegalArgumentException(t.name() + ": " + v.length + " values for "
                + t.elementCount() + " elements");
          }
          w.addFloats(t.name(), DType.F16, t.shape(), v);
        }
      }
      for (Map.Entry<String, float[]> e : replace.entrySet()) {
        if (!in.file.contains(e.getKey())) {
          if (!untie || !e.getKey().equals(head)) {
            throw new IllegalArgumentException("tensor " + e.getKey() + " is not in " + in.dir());
          }
          Checks.length(e.getValue().length, (long) c.vocabSize() * c.dim(), head, "vocab x dim");
          w.addFloats(head, DType.F16, new long[] {c.vocabSize(), c.dim()}, e.getValue());
        }
      }
      w.commit();
      digests = w.digests();
    }
    if (!Files.isSameFile(in.dir(), out)) {
      copyTokenizer(in.dir(), out);
    }
    ObjectNode json = (ObjectNode) in.json();
    if (untie) {
      json.put("tie_word_embeddings", false);
    }
    ((ObjectNode) json.path("quipsharp")).set("finetune", finetune);
    CheckpointIntegrity.record(json, digests);
    AtomicFiles.write(out.resolve("config.json"),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
  }
}
