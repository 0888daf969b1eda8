package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.internal.QuantizedGroup;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.WeightSpec;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import io.github.quipsharp.safetensors.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Published QuIP# checkpoints (issue 19 §6): a Hugging Face folder in the reference layout of
 * QUIPSHARP.md §8.3 (config.json = the model's config plus {@code quip_params}, no {@code quipsharp}
 * section; safetensors with every float in fp16 under the §8.3 names; metadata {@code format: pt}),
 * written here from the spec out of one of this project's checkpoints, loads and runs for Llama 2,
 * Llama 3 and Mistral configs with the same logits as the project's own checkpoint; the quip_params
 * variants are read or refused by name.
 */
class ReferenceCheckpointTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path tmp;

  static Path ours(String fixture, int bits) {
    Path out = tmp.resolve(fixture + "-q" + bits);
    if (!Files.exists(out)) {
      QuantConfig cfg = QuantConfig.builder().bits(bits).seed(5).build();
      ModelQuantizer.quantize(FamilyFixturesTest.fixture(fixture), FamilyQuantizationTest.calibration(),
          cfg, out, ModelQuantizer.Options.builder().ctx(FamilyQuantizationTest.CTX).build());
    }
    return out;
  }

  /** The tensor names of §8.3 for a model of config {@code c}: per layer the four groups' parts. */
  static List<String> referenceTensorNames(LlamaConfig c) {
    List<String> names = new ArrayList<>();
    for (WeightSpec s : WeightSpec.all(c)) {
      if (!s.role().isLinear()) { // embeddings, norms and lm_head: ordinary fp16 tensors
        names.add(s.name());
      }
    }
    String[][] groups = {{"self_attn.qkv_proj", "fuse"}, {"self_attn.o_proj", ""}, {"mlp.upgate_proj", "fuse"},
        {"mlp.down_proj", ""}};
    for (int l = 0; l < c.layers(); l++) {
      for (String[] g : groups) {
        for (String part : new String[] {"Qidxs", "SU", "SV", "Wscale", "codebook_id"}) {
          names.add("model.layers." + l + "." + g[0] + "." + part);
        }
        if (!g[1].isEmpty()) {
          names.add("model.layers." + l + "." + g[0] + ".fuse_scales");
        }
      }
    }
    return names;
  }

  /**
   * Writes {@code checkpoint} in the reference layout: config.json without the quipsharp section
   * (quip_params as §8.3 lists them), the §8.3 tensors with floats in fp16, metadata {"format":
   * "pt"}. {@code codes} rewrites each Qidxs (null: as it is); {@code params} edits quip_params.
   */
  static Path toReferenceLayout(Path checkpoint, Path out, CodesWriter codes, Consumer<ObjectNode> params)
      throws IOException {
    Files.createDirectories(out);
    ObjectNode config = (ObjectNode) JSON.readTree(checkpoint.resolve("config.json").toFile());
    assertFalse(config.path("quipsharp").path("rope_interleaved").asBoolean(),
        "the reference stores q/k rows in Hugging Face's rotate-half order");
    config.remove("quipsharp");
    config.put("torch_dtype", "float16");
    ObjectNode qp = (ObjectNode) config.get("quip_params");
    for (String k : new String[] {"codebook", "codebook_version", "codesz", "idx_dtype", "packsz", "lora_rank",
        "rescale_WH", "resid_scale_override", "model_version"}) {
      assertTrue(qp.has(k), "quip_params." + k);
    }
    if (params != null) {
      params.accept(qp);
    }
    LlamaConfig c;
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(checkpoint)) {
      c = in.config();
    }
    try (SafetensorsFile f = SafetensorsFile.open(checkpoint.resolve("model.safetensors"));
        SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"), Map.of("format", "pt"))) {
      for (String name : referenceTensorNames(c)) {
        TensorInfo t = f.info(name);
        if (t.dtype() == DType.F32 || t.dtype() == DType.BF16) {
          w.addFloats(name, DType.F16, t.shape(), f.readFloats(name));
        } else if (name.endsWith(".Qidxs") && codes != null) {
          codes.write(w, name, c, checkpoint);
        } else {
          w.add(name, t.dtype(), t.shape(), f.map(name));
        }
      }
      w.commit();
    }
    Files.write(out.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(config));
    return out;
  }

  interface CodesWriter {
    void write(SafetensorsWriter w, String name, LlamaConfig c, Path checkpoint) throws IOException;
  }

  /** Loads both and compares prefill and token-by-token logits bit for bit. */
  static void assertSameLogits(Path expected, Path actual) {
    int[] tokens = {1, 17, 42, 5, 88, 3, 64, 21, 9, 50, 77, 2};
    try (LlamaModel a = LlamaModel.load(expected); LlamaModel b = LlamaModel.load(actual)) {
      assertEquals(a.config(), b.config());
      assertArrayEquals(a.forward(tokens, 0, true), b.forward(tokens, 0, true));
      for (int t = 0; t < tokens.length; t++) {
        assertArrayEquals(a.forward(new int[] {tokens[t]}, t, false), b.forward(new int[] {tokens[t]}, t, false));
      }
    }
  }

  @ParameterizedTest
  @CsvSource({"llama, 2", "llama, 3", "llama, 4", "llama3, 2", "mistral, 2", "mistral, 4"})
  void referenceLayoutRunsAsOurCheckpoint(String fixture, int bits) throws IOException {
    Path ours = ours(fixture, bits);
    Path ref = toReferenceLayout(ours, tmp.resolve(fixture + "-q" + bits + "-reference"), null, null);
    JsonNode config = JSON.readTree(ref.resolve("config.json").toFile());
    assertFalse(config.has("quipsharp"));
    try (SafetensorsFile f = SafetensorsFile.open(ref.resolve("model.safetensors"))) {
      assertEquals(Map.of("format", "pt"), f.metadata());
      for (TensorInfo t : f.tensors()) {
        assertTrue(t.dtype() == DType.F16 || t.dtype() == DType.I64, t.name() + " " + t.dtype());
      }
    }
    QuantizationInfo info = QuantizedCheckpoint.readInfo(ref);
    assertEquals(bits, info.config().bits());
    assertEquals(List.of(), info.layers(), "the reference records no per-group reports");
    assertTrue(QuantizedCheckpoint.isCheckpoint(ref));
    assertSameLogits(ours, ref);
  }

  /** idx_dtype torch.int16: one unsigned 16-bit E8P12 code per 8 weights, [rows, cols / 8]. */
  @Test
  void unpackedInt16CodesAreRead() throws IOException {
    Path ours = ours("llama", 2);
    Path ref = toReferenceLayout(ours, tmp.resolve("int16"), (w, name, c, checkpoint) -> {
      String prefix = name.substring(0, name.length() - ".Qidxs".length());
      int layer = Integer.parseInt(prefix.split("\\.")[2]);
      String groupName = prefix.substring(prefix.indexOf('.', "model.layers.".length()) + 1);
      LinearGroup g = Arrays.stream(LinearGroup.values()).filter(x -> x.checkpointName().equals(groupName))
          .findFirst().orElseThrow();
      try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(checkpoint)) {
        QuantizedGroup q = in.group(layer, g);
        short[] codes = new short[q.codes().length];
        for (int i = 0; i < codes.length; i++) {
          assertTrue(q.codes()[i] >= 0 && q.codes()[i] <= 0xFFFF);
          codes[i] = (short) q.codes()[i];
        }
        w.addShorts(name, DType.I16, new long[] {q.shape().rhtRows(), q.shape().codeCols() / 8}, codes);
      }
    }, qp -> qp.put("idx_dtype", "torch.int16").put("packsz", 1));
    assertSameLogits(ours, ref);
  }

  /** resid_scale_override > 0 is the 4-bit residual scale rho2; -1 keeps the codebook's 3.45. */
  @Test
  void residScaleOverrideIsTheResidualScale() throws IOException {
    Path ours = ours("mistral", 4);
    Path same = toReferenceLayout(ours, tmp.resolve("resid-345"), null, qp -> qp.put("resid_scale_override", 3.45));
    assertSameLogits(ours, same);
    Path other = toReferenceLayout(ours, tmp.resolve("resid-2"), null, qp -> qp.put("resid_scale_override", 2.0));
    assertEquals(2.0, QuantizedCheckpoint.readInfo(other).config().residualScale());
    // The decoded weight is Ŵ1 + Ŵ2 / rho2 (§4.1): with Ŵ(rho) of the qkv group at rho = 3.45, 2
    // and 1e30 (≈ Ŵ1), (Ŵ(2) - Ŵ1) * 2 = (Ŵ(3.45) - Ŵ1) * 3.45 = Ŵ2.
    Path none = toReferenceLayout(ours, tmp.resolve("resid-inf"), null, qp -> qp.put("resid_scale_override", 1e30));
    float[] w345 = decodedQkv(same);
    float[] w2 = decodedQkv(other);
    float[] w1 = decodedQkv(none);
    double err = 0;
    double scale = 0;
    for (int i = 0; i < w1.length; i++) {
      double a = (w2[i] - w1[i]) * 2.0;
      double b = (w345[i] - w1[i]) * 3.45;
      err = Math.max(err, Math.abs(a - b));
      scale = Math.max(scale, Math.abs(b));
    }
    assertTrue(scale > 0 && err <= 1e-4 * scale, "residual stage scaled by 1/rho2: " + err + " of " + scale);
  }

  static float[] decodedQkv(Path checkpoint) {
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(checkpoint);
        QuantizedLinear q = in.group(0, LinearGroup.QKV).toLinear()) {
      return q.decode();
    }
  }

  /** Each refused variant: a one-line ModelFormatException naming quip_params' key and the file. */
  @Test
  void variantsTheEngineDoesNotRunAreRefusedByName() throws IOException {
    Path ours2 = ours("llama", 2);
    Path ours4 = ours("llama", 4);
    refused(ours2, "lora", qp -> qp.put("lora_rank", 8), "lora_rank", "8");
    refused(ours2, "rescale", qp -> qp.put("rescale_WH", true), "rescale_WH");
    refused(ours2, "outliers", qp -> qp.put("outlier_channel_split", true), "outlier_channel_split");
    refused(ours2, "version", qp -> qp.put("model_version", 0), "model_version", "0");
    refused(ours2, "int32", qp -> qp.put("idx_dtype", "torch.int32"), "idx_dtype", "torch.int32");
    refused(ours4, "int16-rvq", qp -> qp.put("idx_dtype", "torch.int16").put("packsz", 1), "idx_dtype",
        "E8P12RVQ4B");
    refused(ours2, "codesz", qp -> qp.put("codesz", 4), "codesz", "4");
    refused(ours2, "packsz", qp -> qp.put("packsz", 2), "packsz");
    refused(ours4, "resid", qp -> qp.put("resid_scale_override", "big"), "resid_scale_override", "big");
    refused(ours2, "codebook", qp -> qp.put("codebook", "HI4B1C"), "codebook", "HI4B1C");
    refused(ours2, "codebook-version", qp -> qp.put("codebook_version", 0), "codebook_version");
    // outlier_channel_split false and rescale_WH false are the plain format: read.
    Path plain = toReferenceLayout(ours2, tmp.resolve("flags-false"), null,
        qp -> qp.put("outlier_channel_split", false).put("rescale_WH", false));
    assertSameLogits(ours2, plain);
  }

  static void refused(Path ours, String tag, Consumer<ObjectNode> edit, String key, String... parts)
      throws IOException {
    Path dir = toReferenceLayout(ours, tmp.resolve("refused-" + tag), null, edit);
    byte[] before = Files.readAllBytes(dir.resolve("config.json"));
    ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(dir), tag);
    String msg = e.getMessage();
    assertFalse(msg.contains("\n"), "one line: " + msg);
    assertTrue(msg.contains(dir.resolve("config.json").toString()), "names the file: " + msg);
    assertTrue(msg.contains("quip_params." + key), "names quip_params." + key + ": " + msg);
    for (String p : parts) {
      assertTrue(msg.contains(p), msg + " lacks " + p);
    }
    assertArrayEquals(before, Files.readAllBytes(dir.resolve("config.json")));
  }

  @Test
  void unknownQuipParamsGiveOneWarningLine() throws IOException {
    Path dir = toReferenceLayout(ours("llama3", 2), tmp.resolve("unknown-key"), null,
        qp -> qp.put("hadamard_mode", "kron").put("turbo", 1));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream old = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    // The load warnings (this layout has no digests) go to their own consumer: through the
    // default platform logger they reach System.err too when the logger starts during this load.
    java.util.List<String> loadWarnings = new java.util.ArrayList<>();
    try (LlamaModel m = LlamaModel.load(dir, LoadOptions.DEFAULT.withWarnings(loadWarnings::add))) {
      assertEquals(2, m.quantization().config().bits());
    } finally {
      System.setErr(old);
    }
    String out = err.toString(StandardCharsets.UTF_8).strip();
    assertEquals(1, out.lines().count(), out);
    assertTrue(out.contains("hadamard_mode") && out.contains("turbo") && out.contains("config.json"), out);
    assertEquals(1, loadWarnings.size(), loadWarnings.toString());
    assertTrue(loadWarnings.get(0).contains("has no digests"), loadWarnings.toString());
  }
}
