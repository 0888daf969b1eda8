package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.quipsharp.SyntheticModel.Arch;
import io.github.quipsharp.SyntheticModel.Shape;
import io.github.quipsharp.internal.HuggingFaceConfig;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelFamily;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.RopeConfig;
import io.github.quipsharp.model.WeightSpec;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.testing.SharedModels;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code synth-model --arch}: every family's folder loads, its config reads back as the family's,
 * and models it wrote are read by Hugging Face transformers 5.17 as by the engine (the logits of
 * the synth-* fixtures, made by tools/fixtures/make_synth_fixtures.py, which runs synth-model and
 * transformers).
 */
class SyntheticModelTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  static final Shape TINY = new Shape(32, 64, 2, 4, 2, 8, 96, 256, false);

  /** The fixture's shape, dtype and seed, as read from its files. */
  static Shape shapeOf(JsonNode c) {
    return new Shape(c.get("hidden_size").asInt(), c.get("intermediate_size").asInt(),
        c.get("num_hidden_layers").asInt(), c.get("num_attention_heads").asInt(),
        c.get("num_key_value_heads").asInt(), c.get("head_dim").asInt(), c.get("vocab_size").asInt(),
        c.get("max_position_embeddings").asInt(), c.get("tie_word_embeddings").asBoolean());
  }

  /**
   * The logits of synth-model's files equal transformers' on the same files (so transformers reads
   * the config keys, tensor names, fused tensors and norms as the engine does), and today's
   * SyntheticModel writes those files byte for byte (so the comparison holds for this code).
   */
  @ParameterizedTest
  @ValueSource(strings = {"llama3", "qwen2", "gemma2", "phi3"})
  void synthModelsEqualTransformers(String arch) throws IOException {
    Path fixture = FamilyFixturesTest.fixture("synth-" + arch);
    JsonNode json = JSON.readTree(fixture.resolve("config.json").toFile());
    long seed;
    try (SafetensorsFile f = SafetensorsFile.open(fixture.resolve("model.safetensors"))) {
      String generator = f.metadata().get("generator");
      seed = Long.parseLong(generator.substring(generator.lastIndexOf(' ') + 1));
    }
    Arch a = Arch.ofName(arch);
    LlamaConfig c = a.config(shapeOf(json), DType.F16, json.get("bos_token_id").asInt(),
        json.get("eos_token_id").asInt());
    Path again = tmp.resolve(arch);
    SyntheticModel.write(again, c, DType.F16, seed, null);
    for (String file : new String[] {"config.json", "model.safetensors"}) {
      assertArrayEquals(Files.readAllBytes(fixture.resolve(file)), Files.readAllBytes(again.resolve(file)),
          file + " of synth-" + arch + " is not what SyntheticModel writes now: rerun "
              + "tools/fixtures/make_synth_fixtures.py");
    }
    FamilyFixturesTest.Reference ref;
    try (SafetensorsFile f = SafetensorsFile.open(fixture.resolve("reference.safetensors"))) {
      long[] t = f.readLongs("tokens");
      int[] tokens = new int[t.length];
      for (int i = 0; i < t.length; i++) {
        tokens[i] = Math.toIntExact(t[i]);
      }
      ref = new FamilyFixturesTest.Reference(tokens, f.readFloats("prefill"), null, null, null);
    }
    try (LlamaModel m = LlamaModel.load(fixture)) {
      assertEquals(a.family(), m.config().family());
      double err = FamilyFixturesTest.relativeError(m.forward(ref.tokens(), 0, true), ref.prefill(), 0);
      System.out.printf("synth-%s: relative logit error against transformers %.2e%n", arch, err);
      assertTrue(err <= FamilyFixturesTest.TOLERANCE, arch + ": " + err);
    }
  }

  /** Every arch: the folder loads, the config reads back equal, and the family's traits are in the files. */
  @ParameterizedTest
  @EnumSource(Arch.class)
  void everyArchLoadsAndItsConfigRoundTrips(Arch a) throws IOException {
    LlamaConfig c = a.config(TINY, DType.F32, 1, 2);
    Path dir = tmp.resolve(a.cliName());
    SyntheticModel.write(dir, c, DType.F32, 3, null);
    JsonNode json = JSON.readTree(dir.resolve("config.json").toFile());
    assertFalse(json.has("quipsharp"), "a plain Hugging Face config: " + json);
    List<String> warnings = new ArrayList<>();
    LlamaConfig read = HuggingFaceConfig.read(json, dir.resolve("config.json"), warnings::add);
    assertEquals(c, read);
    assertEquals(List.of(), warnings);
    assertEquals(c, HuggingFaceConfig.read(HuggingFaceConfig.toJson(c), dir, warnings::add), "toHuggingFace");
    assertEquals(a.family().architecture(), json.get("architectures").get(0).asText());
    assertEquals(a.family().modelType(), json.get("model_type").asText());
    try (ModelSource src = ModelSource.open(dir); LlamaModel m = LlamaModel.load(dir);
        SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
      assertEquals(c, src.config());
      float[] logits = m.forward(new int[] {1, 5, 9}, 0, false);
      assertEquals(TINY.vocab(), logits.length);
      for (float v : logits) {
        assertTrue(Float.isFinite(v));
      }
      for (WeightSpec w : WeightSpec.all(c)) {
        float[] v = src.tensor(w.name()).toFloats();
        if (w.role().isNorm()) {
          float want = a.family().isGemma() ? 0f : 1f; // Gemma stores w of the scale 1 + w
          for (float x : v) {
            assertEquals(want, x, w.name());
          }
        } else if (v.length >= 1024) {
          assertTrue(stdDev(v) > 0.018 && stdDev(v) < 0.022, w.name() + " sd " + stdDev(v));
        } else {
          assertTrue(stdDev(v) > 0, w.name() + " (a bias) is zero");
        }
      }
      boolean phi3 = a == Arch.PHI3;
      assertEquals(phi3, f.contains("model.layers.0.self_attn.qkv_proj.weight"));
      assertEquals(phi3, f.contains("model.layers.1.mlp.gate_up_proj.weight"));
      assertEquals(!phi3, f.contains("model.layers.0.self_attn.q_proj.weight"));
      assertEquals(!phi3, f.contains("model.layers.1.mlp.up_proj.weight"));
      assertEquals(a == Arch.QWEN2, f.contains("model.layers.1.self_attn.k_proj.bias"));
      assertEquals(a == Arch.QWEN3, f.contains("model.layers.1.self_attn.k_norm.weight"));
      assertEquals(a == Arch.GEMMA2, f.contains("model.layers.1.post_feedforward_layernorm.weight"));
    }
    switch (a) {
      case LLAMA3 -> {
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(new RopeConfig(RopeConfig.Type.LLAMA3, 8, 1, 4, 8192, 0, 0, 0, 0, 0, true, 1.0), c.rope());
        assertEquals("llama3", json.get("rope_scaling").get("rope_type").asText());
      }
      case MISTRAL -> assertEquals(4096, c.options().windowOf(1));
      case QWEN2 -> assertTrue(c.options().qkvBias() && c.ropeTheta() == 1e6 && c.options().windowOf(1) == 0);
      case QWEN3 -> assertTrue(c.options().qkNorm() && c.ropeTheta() == 1e6);
      case GEMMA -> assertTrue(c.options().normUnitOffset() && c.options().embedScale() == (float) Math.sqrt(32));
      case GEMMA2 -> {
        assertEquals(50.0, c.options().attentionSoftcap());
        assertEquals(30.0, c.options().finalSoftcap());
        assertEquals(256.0, c.options().queryPreAttnScalar());
        assertEquals(4096, c.options().windowOf(0));
        assertEquals(0, c.options().windowOf(1));
        assertTrue(json.get("query_pre_attn_scalar").isInt(), "transformers types it int");
      }
      case PHI3 -> assertEquals(2047, c.options().windowOf(0));
      default -> assertTrue(c.isPlainLlama());
    }
  }

  static double stdDev(float[] v) {
    double s = 0;
    for (float x : v) {
      s += (double) x * x;
    }
    return Math.sqrt(s / v.length);
  }

  /** The real models' shapes are the defaults (the bench's Llama-3-8B shape among them). */
  @Test
  void defaultsAreTheFamiliesRealShapes() {
    assertEquals(new Shape(4096, 14336, 32, 32, 8, 128, 128256, 131072, false), Arch.LLAMA3.shape());
    assertEquals(new Shape(4096, 11008, 32, 32, 32, 128, 512, 4096, true), Arch.LLAMA.shape());
    for (Arch a : Arch.values()) {
      Shape s = a.shape();
      LlamaConfig c = a.config(new Shape(s.dim(), s.hidden(), 2, s.heads(), s.kvHeads(), s.headDim(),
          s.vocab(), s.ctx(), s.tied()), DType.BF16, -1, -1);
      assertEquals(a.family(), c.family());
      assertEquals(s.headDim(), c.headDim());
    }
    assertEquals(ModelFamily.LLAMA, Arch.ofName("llama3").family());
    assertEquals(null, Arch.ofName("llama4"));
  }

  /** --tokenizer: the real tokenizer and its companion files are copied; BOS/EOS come from it. */
  @Test
  void copiesTheRealTokenizerWithItsCompanions() throws IOException {
    Path source = SharedModels.require("llama3-tokenizer");
    Path tokFile = source.resolve("tokenizer.json");
    Tokenizer tok = Tokenizer.load(tokFile);
    assertEquals(128256, tok.vocabSize());
    Shape shape = new Shape(16, 32, 1, 2, 1, 8, 128256, 256, true);
    LlamaConfig c = Arch.LLAMA3.config(shape, DType.F16, tok.bosId(), tok.eosId());
    Path dir = tmp.resolve("with-tokenizer");
    SyntheticModel.write(dir, c, DType.F16, 1, tokFile, null);
    for (String name : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
      assertArrayEquals(Files.readAllBytes(source.resolve(name)), Files.readAllBytes(dir.resolve(name)), name);
    }
    assertFalse(Files.exists(dir.resolve("tokenizer.bin")));
    assertEquals(dir.resolve("tokenizer.json"), Tokenizer.locate(dir));
    try (LlamaModel m = LlamaModel.load(dir)) {
      assertEquals(128000, m.config().bosId());
      assertEquals(tok.eosId(), m.config().eosId());
      int[] ids = Tokenizer.forModel(dir).encode("Once upon a time", true, false);
      assertArrayEquals(new int[] {128000, 12805, 5304, 264, 892}, ids, "shared/models/README.md's ids");
      assertEquals(128256, m.forward(ids, 0, false).length);
    }
  }

  /** A llama2.c tokenizer of another name is copied as tokenizer.bin, where the model search finds it. */
  @Test
  void aLlama2cTokenizerIsCopiedUnderTheNameTheSearchFinds() throws IOException {
    Path tok512 = SharedModels.require("stories260K/tok512.bin");
    Path dir = tmp.resolve("tok512");
    SyntheticModel.write(dir, Arch.LLAMA.config(new Shape(16, 32, 1, 2, 2, 8, 512, 64, true), DType.F16, 1, 2),
        DType.F16, 1, tok512, null);
    assertArrayEquals(Files.readAllBytes(tok512), Files.readAllBytes(dir.resolve("tokenizer.bin")));
    assertEquals(dir.resolve("tokenizer.bin"), Tokenizer.locate(dir));
    assertEquals(512, Tokenizer.forModel(dir).vocabSize());
  }

  @Test
  void aVocabularySmallerThanTheTokenizerIsRefusedBeforeAnyWrite() throws IOException {
    Path tokFile = SharedModels.require("qwen3-tokenizer").resolve("tokenizer.json");
    Path dir = tmp.resolve("too-small");
    LlamaConfig c = Arch.QWEN3.config(new Shape(16, 32, 1, 2, 1, 8, 151000, 256, true), DType.F16, -1, -1);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SyntheticModel.write(dir, c, DType.F16, 1, tokFile, null));
    assertTrue(e.getMessage().contains(tokFile.toString()) && e.getMessage().contains("151669")
        && e.getMessage().contains("151000") && !e.getMessage().contains("\n"), e.getMessage());
    assertTrue(e.getMessage().contains("vocab_size must be at least 151669"), e.getMessage());
    CoreErrorsTest.assertNoFlag(e);
    assertFalse(Files.exists(dir), "nothing written");
  }

  /** A tensor over 2 GiB is refused before any write, typed, naming it and no flag. */
  @Test
  void aTensorOverTwoGibIsRefusedBeforeAnyWrite() throws IOException {
    Path dir = tmp.resolve("too-large");
    // The embedding: 1,048,576 x 1024 float32 = 4 GiB.
    LlamaConfig c = Arch.LLAMA.config(new Shape(1024, 64, 1, 8, 8, 128, 1 << 20, 256, true),
        DType.F32, 1, 2);
    SyntheticModel.TensorTooLargeException e = assertThrows(
        SyntheticModel.TensorTooLargeException.class,
        () -> SyntheticModel.write(dir, c, DType.F32, 1, null));
    assertEquals("model.embed_tokens.weight [1048576, 1024]", e.tensor());
    assertEquals(4L << 30, e.bytes());
    assertEquals("tensor model.embed_tokens.weight [1048576, 1024] would take 4294967296 bytes in "
        + "float32; a synthetic model's tensors are at most 2 GiB (use f16 or bf16, or a smaller "
        + "vocabulary or dimension)", e.getMessage());
    CoreErrorsTest.assertNoFlag(e);
    assertFalse(Files.exists(dir), "nothing written");
  }

  /** A folder that already holds a tokenizer would give the new model that tokenizer: refused. */
  @Test
  void aFolderHoldingATokenizerIsRefusedAndUntouched() throws IOException {
    Path dir = tmp.resolve("has-tokenizer");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("tokenizer.json"), "{\"unrelated\": true}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SyntheticModel.write(dir, Arch.LLAMA.config(new Shape(16, 32, 1, 2, 2, 8, 300, 64, true),
            DType.F16, 1, 2), DType.F16, 1, null));
    assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains(dir.toString()),
        e.getMessage());
    try (var files = Files.list(dir)) {
      assertEquals(List.of(dir.resolve("tokenizer.json")), files.toList());
    }
    assertEquals("{\"unrelated\": true}", Files.readString(dir.resolve("tokenizer.json")));
  }
}
