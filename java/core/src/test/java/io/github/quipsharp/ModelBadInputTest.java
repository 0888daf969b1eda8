package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Bad models, checkpoints and calibration text: clear exceptions naming the file, nothing left behind. */
class ModelBadInputTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  static <T extends Throwable> T fails(Class<T> type, Executable call, String... parts) {
    T e = assertThrows(type, call);
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), "message \"" + e.getMessage() + "\" lacks \"" + p + "\"");
    }
    return e;
  }

  /** A copy of stories260K-hf in tmp/name. */
  Path copyHf(String name) throws IOException {
    Path src = SharedModels.require("stories260K-hf");
    Path dst = tmp.resolve(name);
    Files.createDirectories(dst);
    for (String f : new String[] {"config.json", "model.safetensors", "tok512.bin"}) {
      Files.copy(src.resolve(f), dst.resolve(f));
    }
    return dst;
  }

  void editConfig(Path dir, String field, Object value) throws IOException {
    ObjectNode c = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
    c.set(field, JSON.valueToTree(value));
    Files.write(dir.resolve("config.json"), JSON.writeValueAsBytes(c));
  }

  @Test
  void missingFilesAndFolders() throws IOException {
    fails(ModelFormatException.class, () -> LlamaModel.load(tmp.resolve("nothing")), "nothing");
    Path dir = copyHf("nosafetensors");
    Files.delete(dir.resolve("model.safetensors"));
    fails(ModelFormatException.class, () -> LlamaModel.load(dir), "model.safetensors");
    Path empty = tmp.resolve("empty");
    Files.createDirectories(empty);
    fails(ModelFormatException.class, () -> LlamaModel.load(empty), "empty", "config.json");
  }

  @Test
  void truncatedAndCorruptSafetensors() throws IOException {
    Path dir = copyHf("truncated");
    Path st = dir.resolve("model.safetensors");
    byte[] bytes = Files.readAllBytes(st);
    Files.write(st, Arrays.copyOf(bytes, bytes.length - 1000));
    fails(ModelFormatException.class, () -> LlamaModel.load(dir), "model.safetensors");
    // Header length beyond the file.
    byte[] big = bytes.clone();
    ByteBuffer.wrap(big).order(ByteOrder.LITTLE_ENDIAN).putLong(0, bytes.length + 10L);
    Files.write(st, big);
    fails(ModelFormatException.class, () -> LlamaModel.load(dir), "model.safetensors");
    Files.write(st, new byte[] {1, 2, 3});
    fails(ModelFormatException.class, () -> LlamaModel.load(dir), "model.safetensors");
  }

  @Test
  void configThatDisagreesWithTheTensors() throws IOException {
    Path dir = copyHf("wrongshape");
    editConfig(dir, "intermediate_size", 176);
    fails(ModelFormatException.class, () -> LlamaModel.load(dir), "mlp.gate_proj.weight", "[172, 64]",
        "[176, 64]");
    Path arch = copyHf("arch");
    editConfig(arch, "architectures", new String[] {"GPT2LMHeadModel"});
    fails(ModelFormatException.class, () -> LlamaModel.load(arch), "GPT2LMHeadModel", "not supported");
    Path noField = copyHf("nofield");
    ObjectNode c = (ObjectNode) JSON.readTree(noField.resolve("config.json").toFile());
    c.remove("hidden_size");
    Files.write(noField.resolve("config.json"), JSON.writeValueAsBytes(c));
    fails(ModelFormatException.class, () -> LlamaModel.load(noField), "hidden_size");
    Path badJson = copyHf("badjson");
    Files.writeString(badJson.resolve("config.json"), "{\"architectures\": [");
    fails(ModelFormatException.class, () -> LlamaModel.load(badJson), "config.json", "JSON");
  }

  @Test
  void wrongDtypeOfAWeight() throws IOException {
    Path dir = copyHf("dtype");
    Path st = dir.resolve("model.safetensors");
    byte[] b = Files.readAllBytes(st);
    long n = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    String header = new String(b, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8);
    // The norm weight [64] F32 (256 bytes) read as I32 of the same size.
    String key = "\"model.norm.weight\":{\"dtype\":\"F32\"";
    assertTrue(header.contains(key), header.substring(0, 200));
    String edited = header.replace(key, "\"model.norm.weight\":{\"dtype\":\"I32\"");
    System.arraycopy(edited.getBytes(java.nio.charset.StandardCharsets.UTF_8), 0, b, 8, (int) n);
    Files.write(st, b);
    fails(ModelFormatException.class, () -> LlamaModel.load(dir), "model.norm.weight", "I32");
  }

  @Test
  void truncatedLlama2cFile() throws IOException {
    Path bin = SharedModels.require("stories260K/stories260K.bin");
    byte[] bytes = Files.readAllBytes(bin);
    Path cut = tmp.resolve("cut.bin");
    Files.write(cut, Arrays.copyOf(bytes, bytes.length / 2));
    fails(ModelFormatException.class, () -> LlamaModel.load(cut), "cut.bin", "truncated");
    Path tiny = tmp.resolve("tiny.bin");
    Files.write(tiny, new byte[10]);
    fails(ModelFormatException.class, () -> LlamaModel.load(tiny), "tiny.bin", "header");
  }

  @Test
  void nonFiniteWeightsAreRejected() throws IOException {
    Path bin = SharedModels.require("stories260K/stories260K.bin");
    byte[] bytes = Files.readAllBytes(bin);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putFloat(28 + 4 * 100, Float.NaN);
    Path nan = tmp.resolve("nan.bin");
    Files.write(nan, bytes);
    fails(IllegalArgumentException.class, () -> LlamaModel.load(nan), "embed", "index 100");
  }

  @Test
  void calibrationTooShortOrEmpty() {
    Path model = SharedModels.require("stories260K-hf");
    Path out = tmp.resolve("out");
    fails(IllegalArgumentException.class,
        () -> ModelQuantizer.quantize(model, new int[100], QuantConfig.builder().build(), out,
            ModelQuantizer.Options.defaults()), "too short", "100 tokens");
    fails(IllegalArgumentException.class,
        () -> ModelQuantizer.quantize(model, new int[0], QuantConfig.builder().build(), out,
            ModelQuantizer.Options.defaults()), "too short");
    assertFalse(Files.exists(out), "nothing written");
  }

  @Test
  void tunerWithNoTuningAttachedIsRefused() {
    // A subclass made outside quipsharp has no hook for the quantizer to call: refused when the
    // options are built, not silently quantized without tuning.
    QuantizationTuner foreign = new QuantizationTuner() {};
    fails(IllegalArgumentException.class,
        () -> ModelQuantizer.Options.builder().tuner(foreign).build(), "no tuning attached",
        "BlockwiseTuner");
    fails(IllegalArgumentException.class,
        () -> ModelQuantizer.Options.defaults().withTuner(foreign), "no tuning attached");
    assertEquals(null, ModelQuantizer.Options.defaults().withTuner(null).tuner());
  }

  @Test
  void nonEmptyOutputFolderIsNotOverwritten() throws IOException {
    Path model = SharedModels.require("stories260K-hf");
    Path out = tmp.resolve("busy");
    Files.createDirectories(out);
    Files.writeString(out.resolve("keep.txt"), "mine");
    fails(IllegalArgumentException.class, () -> ModelQuantizer.quantize(model, new int[600],
        QuantConfig.builder().build(), out, ModelQuantizer.Options.defaults()), "not empty");
    assertEquals("mine", Files.readString(out.resolve("keep.txt")));
  }

  @Test
  void checkpointFromANewerFormatOrDamaged() throws IOException {
    StoriesFixture f = StoriesFixture.load();
    Path ck = tmp.resolve("ck");
    ModelQuantizer.quantize(f.model, f.calibration, QuantConfig.builder().bits(2).build(), ck,
        ModelQuantizer.Options.builder().ctx(256).samples(4).build());
    ObjectNode c = (ObjectNode) JSON.readTree(ck.resolve("config.json").toFile());
    ((ObjectNode) c.get("quipsharp")).put("format_version", 99);
    Path newer = tmp.resolve("newer");
    Files.createDirectories(newer);
    Files.write(newer.resolve("config.json"), JSON.writeValueAsBytes(c));
    Files.copy(ck.resolve("model.safetensors"), newer.resolve("model.safetensors"));
    fails(ModelFormatException.class, () -> LlamaModel.load(newer), "newer", "99");
    // Codebook version mismatch.
    c = (ObjectNode) JSON.readTree(ck.resolve("config.json").toFile());
    ((ObjectNode) c.get("quip_params")).put("codebook_version", 0);
    Files.write(newer.resolve("config.json"), JSON.writeValueAsBytes(c));
    fails(ModelFormatException.class, () -> LlamaModel.load(newer), "codebook_version");
    // A checkpoint whose config claims another model shape.
    c = (ObjectNode) JSON.readTree(ck.resolve("config.json").toFile());
    c.put("intermediate_size", 176);
    Files.write(newer.resolve("config.json"), JSON.writeValueAsBytes(c));
    fails(ModelFormatException.class, () -> LlamaModel.load(newer), "model.safetensors");
    // Truncated weights.
    Files.write(newer.resolve("config.json"), Files.readAllBytes(ck.resolve("config.json")));
    byte[] w = Files.readAllBytes(ck.resolve("model.safetensors"));
    Files.write(newer.resolve("model.safetensors"), Arrays.copyOf(w, w.length - 64));
    fails(ModelFormatException.class, () -> LlamaModel.load(newer), "model.safetensors");
  }
}
