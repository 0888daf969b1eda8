package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.internal.HuggingFaceConfig;
import io.github.quipsharp.model.FamilyOptions;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelFamily;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.RopeConfig;
import io.github.quipsharp.safetensors.SafetensorsFile;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every supported family against Hugging Face transformers 5.17 (the independent reference): tiny
 * random models written by transformers' own save_pretrained, with the logits transformers computed
 * for a 20-token sequence, by prefill and by token-by-token decoding over its KV cache (past the
 * sliding windows of 8). Made by tools/fixtures/make_family_fixtures.py into
 * src/test/resources/families/.
 *
 * <p>Tolerance: max |logit - reference| <= 1e-4 x max |reference logit| of the sequence, for fp32
 * files and for the fp16/bf16 files against transformers' float32 run on the same (rounded) weights.
 */
class FamilyFixturesTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final double TOLERANCE = 1e-4;
  static final String[] FP32 = {"llama", "llama3", "llama-linear", "llama-yarn", "llama-yarn-custom",
      "llama-bias", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"};

  @TempDir Path tmp;

  static Path fixture(String name) {
    try {
      return Path.of(FamilyFixturesTest.class.getResource("/families/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The reference tensors of a fixture: tokens, prefill [T, V], decode [T, V] (and the f32 runs). */
  record Reference(int[] tokens, float[] prefill, float[] decode, float[] prefillF32, float[] decodeF32) {
    static Reference of(String name) {
      try (SafetensorsFile f = SafetensorsFile.open(fixture(name).resolve("reference.safetensors"))) {
        long[] t = f.readLongs("tokens");
        int[] tokens = new int[t.length];
        for (int i = 0; i < t.length; i++) {
          tokens[i] = Math.toIntExact(t[i]);
        }
        boolean half = f.contains("prefill_f32");
        return new Reference(tokens, f.readFloats("prefill"), f.readFloats("decode"),
            half ? f.readFloats("prefill_f32") : null, half ? f.readFloats("decode_f32") : null);
      }
    }
  }

  static double maxAbs(float[] v) {
    double m = 0;
    for (float x : v) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }

  /** max |a - b| / max |b| over the range [from, from + a.length) of b. */
  static double relativeError(float[] a, float[] b, int from) {
    double err = 0;
    double scale = 0;
    for (int i = 0; i < a.length; i++) {
      err = Math.max(err, Math.abs(a[i] - b[from + i]));
    }
    for (float x : b) {
      scale = Math.max(scale, Math.abs(x));
    }
    return err / scale;
  }

  /** Prefill logits and token-by-token logits over the KV cache, concatenated per position. */
  static float[][] run(Path dir, int[] tokens) {
    try (LlamaModel m = LlamaModel.load(dir)) {
      float[] prefill = m.forward(tokens, 0, true);
      int v = m.config().vocabSize();
      float[] decode = new float[tokens.length * v];
      for (int t = 0; t < tokens.length; t++) {
        float[] step = m.forward(new int[] {tokens[t]}, t, false);
        System.arraycopy(step, 0, decode, t * v, v);
      }
      return new float[][] {prefill, decode};
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama", "llama3", "llama-linear", "llama-yarn", "llama-yarn-custom",
      "llama-bias", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"})
  void fp32LogitsEqualTransformers(String name) {
    Reference ref = Reference.of(name);
    float[][] got = run(fixture(name), ref.tokens());
    double prefill = relativeError(got[0], ref.prefill(), 0);
    double decode = relativeError(got[1], ref.decode(), 0);
    System.out.printf("%s: max |logit| %.3f, relative error prefill %.2e, token by token %.2e%n", name,
        maxAbs(ref.prefill()), prefill, decode);
    assertTrue(prefill <= TOLERANCE, name + " prefill: " + prefill);
    assertTrue(decode <= TOLERANCE, name + " token by token: " + decode);
  }

  /**
   * Half-precision files: the engine holds the fp16 weights as they are (bf16 widened to fp32
   * exactly) and computes in float, so it meets transformers' float32 run on the same weights at the
   * fp32 tolerance. transformers' own fp16/bf16 run rounds every activation to the half type (2^-11
   * resp. 2^-8 relative per rounding, p = 11 or 8 significant bits); through the ~10 rounded steps
   * per layer of these 2-layer models the logits move by a few such roundings of the largest logit,
   * so the bound against that run is 8 x 2^-p x max |logit|.
   */
  @ParameterizedTest
  @ValueSource(strings = {"qwen2-f16", "qwen2-bf16", "gemma-bf16"})
  void halfPrecisionFiles(String name) {
    Reference ref = Reference.of(name);
    float[][] got = run(fixture(name), ref.tokens());
    if (!name.startsWith("gemma")) {
      // Gemma's embedding scale is rounded to the file's dtype as in transformers' bf16 run; its
      // float32 run keeps sqrt(hidden) unrounded, so only the native-dtype comparison applies to it.
      assertTrue(relativeError(got[0], ref.prefillF32(), 0) <= TOLERANCE, name + " prefill vs f32 run");
      assertTrue(relativeError(got[1], ref.decodeF32(), 0) <= TOLERANCE, name + " decode vs f32 run");
    }
    int mantissa = name.endsWith("bf16") ? 8 : 11;
    double bound = 8 * Math.pow(2, -mantissa);
    double prefill = relativeError(got[0], ref.prefill(), 0);
    double decode = relativeError(got[1], ref.decode(), 0);
    System.out.printf("%s: relative error against transformers' %s run: prefill %.2e, token by token "
        + "%.2e (bound %.2e)%s%n", name, name.substring(name.indexOf('-') + 1), prefill, decode, bound,
        ref.prefillF32() == null ? "" : String.format(", against its float32 run %.2e / %.2e",
            relativeError(got[0], ref.prefillF32(), 0), relativeError(got[1], ref.decodeF32(), 0)));
    assertTrue(prefill <= bound, name + " prefill vs native-dtype run: " + prefill + " > " + bound);
    assertTrue(decode <= bound, name + " decode vs native-dtype run: " + decode + " > " + bound);
  }

  /**
   * The RoPE table the engine exposes for other forward passes: the llama3 fixture's and the custom
   * YaRN fixture's against transformers 5.17's ROPE_INIT_FUNCTIONS (float32, printed to 9 digits).
   */
  @Test
  void ropeTablesEqualTransformers() throws IOException {
    LlamaModel.RopeTable llama3 = LlamaModel.ropeTable(config(fixture("llama3"), new ArrayList<>()));
    double[] want = {0.576056361, 0.00470075384, 0.000176776681, 6.64786967e-06};
    double[] got = llama3.inverseFrequencies();
    assertEquals(want.length, got.length);
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 1e-6 * want[i], "llama3 inv_freq[" + i + "]");
    }
    assertEquals(1.0, llama3.attentionScaling());
    LlamaModel.RopeTable yarn = LlamaModel.ropeTable(config(fixture("llama-yarn-custom"), new ArrayList<>()));
    double[] wantYarn = {1.0, 0.0105112055, 0.000883883506, 7.43254423e-05};
    for (int i = 0; i < wantYarn.length; i++) {
      assertEquals(wantYarn[i], yarn.inverseFrequencies()[i], 1e-6 * wantYarn[i], "yarn inv_freq[" + i + "]");
    }
    assertEquals(1.188359976202698, yarn.attentionScaling(), 1e-12);
    LlamaModel.RopeTable phi3 = LlamaModel.ropeTable(config(fixture("phi3"), new ArrayList<>()));
    assertArrayEquals(new double[] {1.0, 0.01}, phi3.inverseFrequencies(), 1e-15, "rotary dims 4 of 8");
  }

  /** Perplexity runs every family: its NLL equals the one of transformers' logits of the same window. */
  @Test
  void perplexityOfEveryFamilyMatchesTransformersLogits() {
    for (String name : FP32) {
      Reference ref = Reference.of(name);
      int t = ref.tokens().length;
      int v = ref.prefill().length / t;
      double nll = 0;
      for (int i = 0; i + 1 < t; i++) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < v; j++) {
          max = Math.max(max, ref.prefill()[i * v + j]);
        }
        double sum = 0;
        for (int j = 0; j < v; j++) {
          sum += Math.exp(ref.prefill()[i * v + j] - max);
        }
        nll += max + Math.log(sum) - ref.prefill()[i * v + ref.tokens()[i + 1]];
      }
      try (LlamaModel m = LlamaModel.load(fixture(name))) {
        Perplexity.Result r = Perplexity.evaluate(m, ref.tokens(), t - 1, null);
        assertEquals(t - 1, r.predictions());
        assertEquals(nll, r.nll(), 1e-4 * nll, name);
      }
    }
  }

  /**
   * Every family quantizes (4 bits, Hessians from the engine's family forward), its checkpoint keeps
   * the family (config and the fp16 biases and extra norms) and loads back near the fp model (a smoke
   * bound: at width 32 the 4-bit logits move by 2-21 % of the largest logit; the quantized groups
   * with biases and family options are checked exactly against decoded dense weights in
   * test_model).
   */
  @ParameterizedTest
  @ValueSource(strings = {"llama-bias", "llama3", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"})
  void everyFamilyQuantizesAndLoadsBack(String name) {
    java.util.Random rnd = new java.util.Random(5);
    int[] calibration = new int[8 * 33];
    for (int i = 0; i < calibration.length; i++) {
      calibration[i] = rnd.nextInt(96);
    }
    Path out = tmp.resolve(name + "-q4");
    ModelQuantizer.quantize(fixture(name), calibration, QuantConfig.builder().bits(4).seed(1).build(), out,
        ModelQuantizer.Options.builder().ctx(32).build());
    Reference ref = Reference.of(name);
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(out);
        ModelSource src = ModelSource.open(fixture(name))) {
      // Biases and extra norms (like every kept-dense tensor) are the source's values in fp16.
      for (io.github.quipsharp.model.WeightSpec s : io.github.quipsharp.model.WeightSpec.all(in.config())) {
        if (!s.role().isLinear()) {
          float[] want = src.tensor(s.name()).toFloats();
          for (int i = 0; i < want.length; i++) {
            want[i] = io.github.quipsharp.safetensors.HalfFloat.toFloat(
                io.github.quipsharp.safetensors.HalfFloat.fromFloat(want[i]));
          }
          assertArrayEquals(want, in.denseWeight(s), s.name());
        }
      }
    }
    try (LlamaModel q = LlamaModel.load(out); LlamaModel fp = LlamaModel.load(fixture(name))) {
      assertEquals(fp.config(), q.config(), "the checkpoint keeps the family's config");
      float[] a = q.forward(ref.tokens(), 0, true);
      double err = relativeError(a, ref.prefill(), 0);
      System.out.printf("%s 4-bit: relative logit error %.3f%n", name, err);
      assertTrue(err < 0.25, name + " 4-bit logits off by " + err);
    }
  }

  /** transformers casts Gemma's normalizer sqrt(hidden) to the model dtype: 5.65625 in bf16. */
  @Test
  void gemmaEmbeddingScaleIsRoundedToTheModelDtype() throws IOException {
    JsonNode summary = JSON.readTree(fixture("summary.json").toFile());
    double bf16 = summary.path("variants").path("gemma_normalizer").path("bfloat16").asDouble();
    double f32 = summary.path("variants").path("gemma_normalizer").path("float32").asDouble();
    try (ModelSource src = ModelSource.open(fixture("gemma-bf16"));
        LlamaModel m = LlamaModel.load(fixture("gemma-bf16"))) {
      assertEquals(bf16, m.config().options().embedScale());
      float[] rows = src.tensor("model.embed_tokens.weight").toFloats();
      int[] tokens = {3, 17};
      float[] hidden = m.embed(tokens);
      int d = m.config().dim();
      for (int t = 0; t < tokens.length; t++) {
        for (int i = 0; i < d; i++) {
          assertEquals(rows[tokens[t] * d + i] * (float) bf16, hidden[t * d + i]);
        }
      }
    }
    try (LlamaModel m = LlamaModel.load(fixture("gemma"))) {
      assertEquals((float) f32, (float) m.config().options().embedScale());
    }
  }

  /** The transformers 4.x spelling of each config gives the same config and the same logits. */
  @ParameterizedTest
  @ValueSource(strings = {"llama3", "llama-linear", "llama-yarn", "llama-yarn-custom", "mistral",
      "qwen2", "gemma2", "phi3"})
  void bothConfigSpellingsAgree(String name) throws IOException {
    Path v4 = tmp.resolve(name);
    Files.createDirectories(v4);
    Files.copy(fixture(name).resolve("model.safetensors"), v4.resolve("model.safetensors"));
    Files.copy(fixture(name).resolve("config.v4.json"), v4.resolve("config.json"));
    JsonNode old = JSON.readTree(v4.resolve("config.json").toFile());
    assertTrue(old.has("rope_theta") && !old.has("rope_parameters"), "4.x spelling");
    List<String> warnings = new ArrayList<>();
    LlamaConfig a = config(fixture(name), warnings);
    LlamaConfig b = config(v4, warnings);
    assertEquals(a, b);
    assertEquals(List.of(), warnings);
    Reference ref = Reference.of(name);
    assertArrayEquals(run(fixture(name), ref.tokens())[0], run(v4, ref.tokens())[0]);
  }

  static LlamaConfig config(Path dir, List<String> warnings) throws IOException {
    Path file = dir.resolve("config.json");
    return HuggingFaceConfig.read(JSON.readTree(file.toFile()), file, warnings::add);
  }

  @Test
  void configsReadAsTransformersDefinesThem() throws IOException {
    List<String> warnings = new ArrayList<>();
    LlamaConfig llama3 = config(fixture("llama3"), warnings);
    assertEquals(500000.0, llama3.ropeTheta());
    assertEquals(new RopeConfig(RopeConfig.Type.LLAMA3, 8, 1, 4, 16, 0, 0, 0, 0, 0, true, 1.0), llama3.rope());
    assertTrue(llama3.tiedEmbeddings());
    LlamaConfig mistral = config(fixture("mistral"), warnings);
    assertEquals(1_000_000.0, mistral.ropeTheta(), "rope_parameters.rope_theta of transformers 5");
    assertEquals(8, mistral.options().windowOf(0));
    assertEquals(8, mistral.options().windowOf(1));
    LlamaConfig qwen2 = config(fixture("qwen2"), warnings);
    assertTrue(qwen2.options().qkvBias() && !qwen2.options().outputBias());
    assertEquals(0, qwen2.options().windowOf(0), "layers below max_window_layers attend fully");
    assertEquals(8, qwen2.options().windowOf(1));
    LlamaConfig gemma2 = config(fixture("gemma2"), warnings);
    assertEquals(List.of(true, false, true), gemma2.options().slidingLayers());
    assertEquals(1.5, gemma2.options().attentionSoftcap());
    assertEquals(30.0, gemma2.options().finalSoftcap());
    assertEquals(24.0, gemma2.options().queryPreAttnScalar());
    assertEquals(FamilyOptions.Activation.GELU_TANH, gemma2.options().activation());
    LlamaConfig phi3 = config(fixture("phi3"), warnings);
    assertEquals(4, phi3.rope().rotaryDim(phi3.headDim()));
    assertEquals(ModelFamily.PHI3, phi3.family());
    LlamaConfig qwen3 = config(fixture("qwen3"), warnings);
    assertEquals(16, qwen3.headDim());
    assertTrue(qwen3.options().qkNorm());
    assertEquals(List.of(), warnings, "transformers' own configs need no warning");
  }

  /** toHuggingFace writes every setting back (a checkpoint's config.json keeps the family). */
  @Test
  void configsSurviveTheirOwnRoundTrip() throws IOException {
    for (String name : FP32) {
      LlamaConfig c = config(fixture(name), new ArrayList<>());
      List<String> warnings = new ArrayList<>();
      LlamaConfig back = HuggingFaceConfig.read(HuggingFaceConfig.toJson(c), tmp.resolve("config.json"), warnings::add);
      assertEquals(c, back, name);
      assertEquals(List.of(), warnings, name);
    }
  }

  /** The transformers-5 Mistral case of issue 19: θ = 10000 instead of rope_parameters' 1e6 is far off. */
  @Test
  void mistralThetaFromRopeParametersMatters() throws IOException {
    Reference ref = Reference.of("mistral");
    Path wrong = copy("mistral", "mistral-theta");
    ObjectNode c = readConfig(wrong);
    ((ObjectNode) c.get("rope_parameters")).put("rope_theta", 10000.0);
    writeConfig(wrong, c);
    double err = relativeError(run(wrong, ref.tokens())[0], ref.prefill(), 0);
    assertTrue(err > 100 * TOLERANCE, "a model run with theta 10000 must miss the reference: " + err);
    // And without its window it misses the positions past 8.
    Path noWindow = copy("mistral", "mistral-nowindow");
    c = readConfig(noWindow);
    c.putNull("sliding_window");
    writeConfig(noWindow, c);
    float[] full = run(noWindow, ref.tokens())[0];
    int v = 96;
    assertTrue(relativeError(java.util.Arrays.copyOf(full, 8 * v), ref.prefill(), 0) <= TOLERANCE,
        "within the window nothing changes");
    assertTrue(relativeError(full, ref.prefill(), 0) > 100 * TOLERANCE, "past the window it does");
  }

  Path copy(String name, String to) throws IOException {
    Path dst = tmp.resolve(to);
    Files.createDirectories(dst);
    try (Stream<Path> files = Files.list(fixture(name))) {
      for (Path f : files.toList()) {
        Files.copy(f, dst.resolve(f.getFileName()));
      }
    }
    return dst;
  }

  static ObjectNode readConfig(Path dir) throws IOException {
    return (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
  }

  static void writeConfig(Path dir, JsonNode c) throws IOException {
    Files.write(dir.resolve("config.json"), JSON.writeValueAsBytes(c));
  }

  /** Edits one key of a fixture's config and expects a one-line ModelFormatException naming it and the file. */
  void refused(String name, String key, JsonNode value, String... parts) throws IOException {
    Path dir = copy(name, name + "-" + key.replace('.', '-') + "-" + Math.abs(value.hashCode()));
    ObjectNode c = readConfig(dir);
    ObjectNode target = c;
    String k = key;
    if (key.contains(".")) {
      target = (ObjectNode) c.get(key.substring(0, key.indexOf('.')));
      k = key.substring(key.indexOf('.') + 1);
    }
    target.set(k, value);
    writeConfig(dir, c);
    byte[] before = Files.readAllBytes(dir.resolve("config.json"));
    ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(dir), key);
    String msg = e.getMessage();
    assertFalse(msg.contains("\n"), "one line: " + msg);
    assertTrue(msg.contains(dir.resolve("config.json").toString()), "names the file: " + msg);
    assertTrue(msg.contains(k), "names " + k + ": " + msg);
    for (String p : parts) {
      assertTrue(msg.contains(p), "message \"" + msg + "\" lacks \"" + p + "\"");
    }
    assertArrayEquals(before, Files.readAllBytes(dir.resolve("config.json")), "nothing written");
  }

  @Test
  void keysThatChangeTheForwardPassAreImplementedOrRefusedByName() throws IOException {
    var n = JSON.getNodeFactory();
    ObjectNode dynamic = n.objectNode().put("rope_type", "dynamic").put("factor", 2.0);
    refused("llama", "rope_parameters", dynamic, "dynamic", "not supported");
    refused("llama", "rope_parameters", n.objectNode().put("rope_type", "longrope"), "longrope");
    ObjectNode su = n.objectNode().put("type", "su");
    refused("phi3", "rope_parameters", su, "longrope");
    refused("llama", "rope_theta", n.textNode("fast"), "\"fast\"", "not a number");
    refused("llama", "rope_parameters.rope_theta", n.textNode("fast"), "not a number");
    refused("llama", "rope_parameters.rope_theta", n.numberNode(-1.0), "rope_theta");
    refused("llama", "max_position_embeddings", n.numberNode(0), "positive");
    refused("llama", "max_position_embeddings", n.numberNode(-5), "positive");
    refused("llama", "num_hidden_layers", n.numberNode(1), "2 layers");
    refused("llama", "num_hidden_layers", n.numberNode(3), "2 layers");
    refused("llama", "hidden_act", n.textNode("relu"), "relu");
    refused("gemma2", "hidden_activation", n.textNode("gelu_fast"), "gelu_fast");
    refused("gemma", "use_bidirectional_attention", n.booleanNode(true), "causally");
    refused("llama", "quantization_config", n.objectNode().put("quant_method", "gptq"), "gptq");
    refused("llama", "partial_rotary_factor", n.numberNode(0.5), "LlamaForCausalLM");
    refused("gemma2", "layer_types", n.arrayNode().add("chunked_attention").add("full_attention")
        .add("full_attention"), "chunked_attention");
    refused("gemma2", "layer_types", n.arrayNode().add("full_attention"), "one type per layer");
    refused("mistral", "sliding_window", n.textNode("wide"), "positive integer");
    refused("gemma2", "attn_logit_softcapping", n.numberNode(-2.0), "positive");
    refused("qwen2", "model_type", n.textNode("llama"), "does not match");
    refused("llama3", "rope_scaling", n.objectNode().put("rope_type", "linear").put("factor", 2.0), "disagree");
    ObjectNode missingLow = (ObjectNode) readConfig(fixture("llama3")).get("rope_parameters").deepCopy();
    missingLow.remove("low_freq_factor");
    refused("llama3", "rope_parameters", missingLow, "low_freq_factor", "missing");
    ObjectNode perLayer = n.objectNode();
    perLayer.set("full_attention", n.objectNode().put("rope_type", "default").put("rope_theta", 10000.0));
    perLayer.set("sliding_attention", n.objectNode().put("rope_type", "default").put("rope_theta", 1e6));
    refused("gemma2", "rope_parameters", perLayer, "per layer type");
    refused("llama-yarn", "rope_parameters.truncate", n.textNode("no"), "boolean");
    refused("llama", "attention_bias", n.textNode("yes"), "boolean");
    refused("gemma", "dtype", n.textNode("float8"), "float8");
  }

  @Test
  void perLayerTypeRopeDictsThatAgreeAreRead() throws IOException {
    Path dir = copy("gemma2", "gemma2-per-layer");
    ObjectNode c = readConfig(dir);
    ObjectNode dict = (ObjectNode) c.get("rope_parameters");
    ObjectNode perLayer = JSON.getNodeFactory().objectNode();
    perLayer.set("full_attention", dict.deepCopy());
    perLayer.set("sliding_attention", dict.deepCopy());
    c.set("rope_parameters", perLayer);
    writeConfig(dir, c);
    assertEquals(config(fixture("gemma2"), new ArrayList<>()), config(dir, new ArrayList<>()));
  }

  @Test
  void unknownKeysGiveOneWarningLine() throws IOException {
    ObjectNode c = readConfig(fixture("qwen3"));
    c.put("frobnication", 3);
    c.put("zeta_gain", 1.5);
    ((ObjectNode) c.get("rope_parameters")).put("factor", 4.0); // unused by the default rope
    List<String> warnings = new ArrayList<>();
    Path file = tmp.resolve("config.json");
    LlamaConfig parsed = HuggingFaceConfig.read(c, file, warnings::add);
    assertEquals(config(fixture("qwen3"), new ArrayList<>()), parsed, "the forward pass is unchanged");
    assertEquals(1, warnings.size(), warnings.toString());
    String w = warnings.get(0);
    assertFalse(w.contains("\n"));
    for (String part : new String[] {file.toString(), "frobnication", "zeta_gain", "rope_parameters factor"}) {
      assertTrue(w.contains(part), w + " lacks " + part);
    }
    // A key transformers' class of another family would honour is unknown to this family: named.
    ObjectNode llama = readConfig(fixture("llama"));
    llama.put("sliding_window", 4096);
    warnings.clear();
    HuggingFaceConfig.read(llama, file, warnings::add);
    assertTrue(warnings.size() == 1 && warnings.get(0).contains("sliding_window"), warnings.toString());
  }

  @Test
  void familiesAreRefusedWhereOnlyThePlainLlamaBlockIsImplemented() throws IOException {
    LlamaConfig qwen2 = config(fixture("qwen2"), new ArrayList<>());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> qwen2.requirePlainLlama("the libtorch model"));
    assertTrue(e.getMessage().contains("Qwen2ForCausalLM"), e.getMessage());
    config(fixture("llama"), new ArrayList<>()).requirePlainLlama("the libtorch model");
    assertNotEquals(FamilyOptions.LLAMA, qwen2.options());
  }

  @Test
  void extraTensorsAreNamedInOneWarning() throws IOException {
    // A Qwen 2 file read as Llama: its biases are not part of that config.
    Path dir = copy("qwen2-f16", "qwen2-as-llama");
    ObjectNode c = readConfig(dir);
    c.putArray("architectures").add("LlamaForCausalLM");
    c.put("model_type", "llama");
    c.remove(List.of("use_sliding_window", "max_window_layers", "layer_types", "sliding_window"));
    writeConfig(dir, c);
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream old = System.err;
    System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    try (LlamaModel m = LlamaModel.load(dir)) {
      assertEquals(ModelFamily.LLAMA, m.config().family());
    } finally {
      System.setErr(old);
    }
    String out = err.toString(java.nio.charset.StandardCharsets.UTF_8).strip();
    assertEquals(1, out.lines().count(), out);
    assertTrue(out.contains("q_proj.bias") && out.contains("ignored"), out);
  }
}
