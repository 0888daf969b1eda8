package io.github.quipsharp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.bindings.QuipsharpNative;
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
    return ModelSource.readJson(config).has("quip_params");
  }

  static float roundF16(float v) {
    return HalfFloat.toFloat(HalfFloat.fromFloat(v));
  }

  static float[] roundF16(float[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = roundF16(v[i]);
    }
    return out;
  }

  /** The matrix exactly as the checkpoint stores it (fp16 sign vectors, Wscale 1). */
  static QuantizedLinear storedLinear(int rows, int cols, QuantConfig cfg, int[] codes, float[] su,
      float[] sv) {
    return QuantizedLinear.fromParts(rows, cols, cfg, codes, roundF16(su), roundF16(sv), 1.0);
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

  static void writeShard(Path shard, QuantizedLinear q, float[] su, float[] sv, float[] fuse,
      LayerReport report) throws IOException {
    Files.createDirectories(shard.getParent());
    QuantShape s = q.shape();
    long[] words = q.packedCodes();
    try (SafetensorsWriter w = SafetensorsWriter.create(shard,
        Map.of("report", JSON.writeValueAsString(reportJson(report))))) {
      w.addLongs("Qidxs", DType.I64, new long[] {s.packedRows(), words.length / s.packedRows()}, words);
      w.addFloats("SU", DType.F16, new long[] {su.length}, su);
      w.addFloats("SV", DType.F16, new long[] {sv.length}, sv);
      w.addFloats("Wscale", DType.F16, new long[] {}, new float[] {1.0f});
      w.addLongs("codebook_id", DType.I64, new long[] {}, new long[] {q.config().codebookId()});
      if (fuse != null) {
        w.addFloats("fuse_scales", DType.F16, new long[] {fuse.length}, fuse);
      }
      w.commit();
    }
  }

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

  /** Writes model.safetensors, the tokenizer and (last) config.json from the finished shards. */
  static void assemble(ModelSource src, QuantizationInfo info, ObjectNode settings, Path partial,
      Path out) throws IOException {
    LlamaConfig c = src.config();
    try (SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"),
        Map.of("format", "pt", "quipsharp_format_version", Integer.toString(FORMAT_VERSION)))) {
      // The writer orders tensors by name: the order of the adds does not change the file.
      for (WeightSpec s : WeightSpec.all(c)) {
        if (!s.role().isLinear()) {
          addF16(w, src.tensor(s.name()));
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
    }
    // The checkpoint carries the model's tokenizer when it has one (the same search as
    // Tokenizer.forModel); a model without one is still quantized, and --tokenizer names it later.
    Path tok;
    try {
      tok = Tokenizer.locate(src.path());
    } catch (ModelFormatException e) {
      tok = null;
    }
    if (tok != null) {
      AtomicFiles.copy(tok, out.resolve(tok.getFileName()));
    }
    AtomicFiles.write(out.resolve("config.json"),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(configFile(c, info, settings)));
  }

  private static void addF16(SafetensorsWriter w, Tensor t) throws IOException {
    if (t.dtype() == DType.F16) {
      w.add(t.name(), DType.F16, t.shape(), t.data());
      return;
    }
    long count = t.elementCount();
    ByteBuffer in = t.data().duplicate().order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(count * 2)).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < count; i++) {
      float v = t.dtype() == DType.F32 ? in.getFloat(4 * i) : HalfFloat.bf16ToFloat(in.getShort(2 * i));
      b.putShort(2 * i, HalfFloat.fromFloat(v));
    }
    w.add(t.name(), DType.F16, t.shape(), b);
  }

  private static ObjectNode configFile(LlamaConfig c, QuantizationInfo info, ObjectNode settings) {
    ObjectNode o = c.toHuggingFace();
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
    qs.put("source_model", settings.path("model").asText());
    qs.put("source_format", settings.path("model_format").asText());
    ObjectNode cal = qs.putObject("calibration");
    cal.put("ctx", settings.path("ctx").asInt());
    cal.put("windows", settings.path("windows").asInt());
    cal.put("tokens", settings.path("calibration_tokens").asInt());
    qs.put("padded", info.anyPadded());
    ArrayNode layers = qs.putArray("layers");
    for (LayerReport r : info.layers()) {
      layers.add(reportJson(r));
    }
    return o;
  }

  // ---- reading ------------------------------------------------------------------------------

  /** The checkpoint's settings and reports, without loading weights. */
  public static QuantizationInfo readInfo(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode json = ModelSource.readJson(file);
    QuantConfig cfg = checkHeader(json, file);
    return new QuantizationInfo(cfg, reports(json, cfg, file));
  }

  private static List<LayerReport> reports(JsonNode json, QuantConfig cfg, Path file) {
    List<LayerReport> reports = new ArrayList<>();
    for (JsonNode r : json.path("quipsharp").path("layers")) {
      reports.add(reportFrom(r, cfg, file));
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
      throw new ModelFormatException(file, "codebook \"" + codebook + "\" is not one of "
          + String.join(", ", CODEBOOKS));
    }
    if (qp.path("codebook_version").asInt(-1) != CODEBOOK_VERSIONS[cb]) {
      throw new ModelFormatException(file, "codebook_version " + qp.path("codebook_version")
          + " of " + codebook + " is not the supported version " + CODEBOOK_VERSIONS[cb]);
    }
    QuantConfig cfg = qs.has("quant_config") ? configFrom(qs.get("quant_config"), file)
        : QuantConfig.builder().bits(cb + 2).build();
    if (cfg.bits() != cb + 2) {
      throw new ModelFormatException(file, "quant_config bits " + cfg.bits() + " disagree with codebook "
          + codebook);
    }
    double resid = qp.path("resid_scale_override").asDouble(-1);
    if (resid > 0 && resid != cfg.residualScale()) {
      cfg = cfg.toBuilder().residualScale(resid).build();
    }
    return cfg;
  }

  /** Loads a checkpoint folder into the engine. */
  static LlamaModel load(Path dir) {
    Path file = dir.resolve("config.json");
    JsonNode json = ModelSource.readJson(file);
    QuantConfig cfg = checkHeader(json, file);
    LlamaConfig c = LlamaConfig.fromHuggingFace(json, file);
    Path weights = dir.resolve("model.safetensors");
    LlamaModel m = LlamaModel.empty(c);
    try (SafetensorsFile f = SafetensorsFile.open(weights)) {
      for (WeightSpec s : WeightSpec.all(c)) {
        if (!s.role().isLinear()) {
          TensorInfo t = f.requireShape(s.name(), Set.of(DType.F16, DType.F32, DType.BF16), s.shape());
          m.setTensor(new Tensor(s.name(), t.dtype(), t.shape(), f.map(s.name())), s.role(),
              Math.max(s.layer(), 0), DType.F16);
        }
      }
      for (int l = 0; l < c.layers(); l++) {
        for (LinearGroup g : LinearGroup.values()) {
          loadGroup(m, f, l, g, cfg);
        }
      }
      m.setQuantization(new QuantizationInfo(cfg, reports(json, cfg, file)));
      return m;
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  private static void loadGroup(LlamaModel m, SafetensorsFile f, int layer, LinearGroup g,
      QuantConfig cfg) {
    String p = "model.layers." + layer + "." + g.checkpointName() + ".";
    int rows = m.groupRows(g);
    int cols = m.groupCols(g);
    QuantShape s = QuantShape.of(rows, cols, cfg.incoherence());
    long words = QuipsharpNative.qs_packed_words(
        cfg.codebookId(), s.packedRows(), s.packedCols());
    f.requireShape(p + "Qidxs", DType.I64, s.packedRows(), words / s.packedRows());
    f.requireShape(p + "SU", DType.F16, s.rhtCols());
    f.requireShape(p + "SV", DType.F16, s.rhtRows());
    f.requireShape(p + "Wscale", DType.F16);
    f.requireShape(p + "codebook_id", DType.I64);
    long id = f.readLongs(p + "codebook_id")[0];
    if (id != cfg.codebookId()) {
      throw new ModelFormatException(f.path(), "tensor " + p + "codebook_id is " + id
          + " but the config's codebook has id " + cfg.codebookId());
    }
    int members = g.members().length;
    float[] fuse = {1.0f};
    if (members > 1) {
      f.requireShape(p + "fuse_scales", DType.F16, members);
      fuse = f.readFloats(p + "fuse_scales");
    }
    int[] codes;
    try {
      codes = QuantizedLinear.unpackCodes(f.readLongs(p + "Qidxs"), s, cfg);
    } catch (IllegalArgumentException e) {
      throw new ModelFormatException(f.path(), "tensor " + p + "Qidxs: " + e.getMessage(), e);
    }
    float wscale = f.readScalarFloat(p + "Wscale");
    try (QuantizedLinear q = QuantizedLinear.fromParts(rows, cols, cfg, codes,
        f.readFloats(p + "SU"), f.readFloats(p + "SV"), wscale)) {
      m.setQuantized(layer, g, q, fuse);
    } catch (IllegalArgumentException e) {
      throw new ModelFormatException(f.path(), "layer " + layer + " " + g.checkpointName() + ": "
          + e.getMessage(), e);
    }
  }
}
