package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.testing.ModelEdits;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The digests a checkpoint records of itself, and what loading does with them (API level). */
class CheckpointIntegrityTest {
  @TempDir Path tmp;

  static ObjectNode json(String s) throws Exception {
    return (ObjectNode) new ObjectMapper().readTree(s.replace('\'', '"'));
  }

  @Test
  void theSameValuesWrittenDifferentlyHaveTheSameDigest() throws Exception {
    Map<String, String> a = CheckpointIntegrity.fieldDigests(json(
        "{'rope_theta': 10000, 'rms_norm_eps': 1e-05, 'x': {'b': 1, 'a': [1.50, true, null]}}"));
    Map<String, String> b = CheckpointIntegrity.fieldDigests(json(
        "{'x': {'a': [1.5, true, null], 'b': 1.0}, 'rms_norm_eps': 0.00001, 'rope_theta': 1e4}"));
    assertEquals(a, b);
    StringBuilder sb = new StringBuilder();
    CheckpointIntegrity.canonical(json("{'b': 2.50, 'a': 'x\\\\y', 'c': -0.0}"), sb);
    assertEquals("{\"a\":\"x\\\\y\",\"b\":2.5,\"c\":0}", sb.toString());
  }

  @Test
  void eachFieldIsCoveredAndNamed() throws Exception {
    ObjectNode c = json("{'num_hidden_layers': 5, 'quipsharp': {'rope_interleaved': true, "
        + "'layers': [1, 2]}}");
    CheckpointIntegrity.record(c, Map.of("t", "00000000"));
    CheckpointIntegrity in = CheckpointIntegrity.read(c, Path.of("config.json"));
    in.checkConfig(c); // unchanged: fine
    String[][] edits = {
        {"quipsharp.rope_interleaved", "differs"}, {"num_hidden_layers", "differs"},
        {"quipsharp.layers", "differs"}, {"added_field", "was added"}};
    for (String[] e : edits) {
      ObjectNode changed = c.deepCopy();
      ObjectNode q = (ObjectNode) changed.get("quipsharp");
      switch (e[0]) {
        case "quipsharp.rope_interleaved" -> q.put("rope_interleaved", false);
        case "num_hidden_layers" -> changed.put("num_hidden_layers", 4);
        case "quipsharp.layers" -> q.putArray("layers").add(1);
        default -> changed.put("added_field", 1);
      }
      ModelFormatException x = assertThrows(ModelFormatException.class, () -> in.checkConfig(changed));
      assertTrue(x.getMessage().contains("field " + e[0] + " " + e[1]), x.getMessage());
    }
    ObjectNode removed = c.deepCopy();
    removed.remove("num_hidden_layers");
    assertTrue(assertThrows(ModelFormatException.class, () -> in.checkConfig(removed)).getMessage()
        .contains("field num_hidden_layers was removed"));
  }

  @Test
  void loadingChecksEveryTensorUnlessToldNotTo() throws Exception {
    Path ck = quantized();
    QuantizedCheckpoint.Verification v = QuantizedCheckpoint.verify(ck);
    // 5 layers x (4 groups x 5 tensors + 2 fuse_scales + 2 norms) + the embedding + the final norm
    assertEquals(122, v.tensors());
    assertEquals(Files.size(ck.resolve("model.safetensors")) - 8 - headerBytes(ck), v.bytes());
    List<String> warnings = new ArrayList<>();
    try (LlamaModel m = LlamaModel.load(ck, LoadOptions.DEFAULT.withWarnings(warnings::add))) {
      assertEquals(20, m.quantization().layers().size());
    }
    assertEquals(List.of(), warnings);

    String tensor = "model.layers.4.self_attn.o_proj.SV";
    ModelEdits.editBytes(ck.resolve("model.safetensors"), tensor, b -> b[0] ^= 1);
    ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(ck));
    assertTrue(e.getMessage().contains("tensor " + tensor + " does not match"), e.getMessage());
    assertTrue(assertThrows(ModelFormatException.class, () -> QuantizedCheckpoint.verify(ck))
        .getMessage().contains(tensor));
    try (LlamaModel m = LlamaModel.load(ck, LoadOptions.DEFAULT.withoutVerification())) {
      assertEquals(5, m.config().layers());
    }

    // Without digests: one warning, and the load goes on.
    ModelEdits.editJson(ck.resolve("config.json"),
        o -> ((ObjectNode) o.get("quipsharp")).remove(CheckpointIntegrity.KEY));
    try (LlamaModel m = LlamaModel.load(ck, LoadOptions.DEFAULT.withWarnings(warnings::add))) {
      assertEquals(1, warnings.size(), warnings.toString());
      assertTrue(warnings.get(0).contains("has no digests"), warnings.get(0));
    }
  }

  @Test
  void aFineTunedCopyRecordsFreshDigests() throws Exception {
    Path ck = quantized();
    Path tuned = tmp.resolve("tuned");
    String norm = "model.norm.weight";
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(ck)) {
      float[] w = in.denseWeight(io.github.quipsharp.model.WeightSpec.all(in.config()).stream()
          .filter(s -> s.name().equals(norm)).findFirst().orElseThrow());
      w[0] *= 2;
      QuantizedCheckpoint.writeTuned(in, tuned, Map.of(norm, w),
          new ObjectMapper().createObjectNode().put("note", "test"));
    }
    assertEquals(122, QuantizedCheckpoint.verify(tuned).tensors());
    String before = new ObjectMapper().readTree(ck.resolve("config.json").toFile())
        .at("/quipsharp/integrity/tensors/model.norm.weight").asText();
    String after = new ObjectMapper().readTree(tuned.resolve("config.json").toFile())
        .at("/quipsharp/integrity/tensors/model.norm.weight").asText();
    assertNotEquals(before, after);
    // A value that fp16 cannot hold is refused rather than stored as infinity.
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(ck)) {
      float[] w = new float[in.config().dim()];
      w[1] = 1e6f;
      IllegalStateException x = assertThrows(IllegalStateException.class,
          () -> QuantizedCheckpoint.writeTuned(in, tmp.resolve("inf"), Map.of(norm, w),
              new ObjectMapper().createObjectNode()));
      assertTrue(x.getMessage().contains(norm) && x.getMessage().contains("fp16"), x.getMessage());
    }
    assertTrue(!Files.exists(tmp.resolve("inf").resolve("model.safetensors")));
  }

  /** stories260K at 2 bits from 4 windows. */
  Path quantized() {
    StoriesFixture f = StoriesFixture.load();
    Path ck = tmp.resolve("ck");
    ModelQuantizer.quantize(f.model, f.calibration, QuantConfig.builder().bits(2).seed(1).build(),
        ck, ModelQuantizer.Options.builder().ctx(256).samples(4).build());
    return ck;
  }

  static long headerBytes(Path ck) throws Exception {
    try (io.github.quipsharp.safetensors.SafetensorsFile s =
        io.github.quipsharp.safetensors.SafetensorsFile.open(ck.resolve("model.safetensors"))) {
      return s.headerLength();
    }
  }
}
