package io.github.quipsharp.cli;

import static io.github.quipsharp.cli.ModelCommandsTest.family;
import static io.github.quipsharp.cli.ModelCommandsTest.lastJson;
import static io.github.quipsharp.cli.ModelCommandsTest.models;
import static io.github.quipsharp.cli.QuantizeMatrixCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model families from the command line with real tokenizers (issue 19): a small Llama 3 model
 * written by synth-model with the Llama 3 tokenizer through quantize, ppl, generate, generate --chat
 * and inspect; and ppl on the transformers-5 Mistral fixture (rope_theta only in rope_parameters)
 * against transformers' perplexity.
 */
class FamilyCommandsTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  @Test
  void llama3FromSynthModelThroughEveryCommand() throws Exception {
    Path shared = models();
    Path text = shared.resolve("tinystories-sample.txt");
    Path model = tmp.resolve("llama3");
    String out = run(0, "synth-model", "--arch", "llama3", "--tokenizer",
        shared.resolve("llama3-tokenizer").toString(), "--dim", "64", "--hidden", "128", "--heads", "4",
        "--ctx", "512", "--seed", "2", "--out", model.toString())[0];
    assertTrue(out.contains("LlamaForCausalLM (llama3)") && out.contains("128256 tokens"), out);
    JsonNode config = JSON.readTree(model.resolve("config.json").toFile());
    assertEquals(128256, config.get("vocab_size").asInt(), "the family's vocabulary = the tokenizer's");
    assertEquals(1, config.get("num_key_value_heads").asInt(), "Llama 3's 4:1 grouped-query ratio");
    assertEquals(500000.0, config.get("rope_theta").asDouble());
    assertEquals("llama3", config.get("rope_scaling").get("rope_type").asText());
    assertEquals(128000, config.get("bos_token_id").asInt());
    assertEquals(128009, config.get("eos_token_id").asInt(), "<|eot_id|>, tokenizer_config.json's eos_token");
    assertTrue(Files.exists(model.resolve("tokenizer.json")) && Files.exists(model.resolve("tokenizer_config.json")));

    Path q = tmp.resolve("llama3-q2");
    out = run(0, "quantize", "--model", model.toString(), "--bits", "2", "--calibration", text.toString(),
        "--ctx", "64", "--samples", "4", "--seed", "1", "--out", q.toString())[0];
    assertTrue(out.contains("layer 1 down"), out);
    JsonNode qc = JSON.readTree(q.resolve("config.json").toFile());
    assertEquals(config.get("rope_scaling"), qc.get("rope_scaling"), "the checkpoint keeps llama3 RoPE");
    assertTrue(Files.exists(q.resolve("tokenizer_config.json")), "companions travel with the checkpoint");

    // Random weights (N(0, 0.02²)) predict almost uniformly: the perplexity is near the vocabulary size.
    for (Path m : new Path[] {model, q}) {
      JsonNode r = lastJson(run(0, "ppl", "--model", m.toString(), "--text", text.toString(), "--heldout",
          "--ctx", "64", "--max-tokens", "200", "--json")[0]);
      assertEquals(199, r.get("predictions").asInt());
      double ppl = r.get("ppl").asDouble();
      assertTrue(ppl > 0.5 * 128256 && ppl < 2 * 128256, m + ": ppl " + ppl);
    }

    // shared/models/README.md: "Once upon a time" is [128000, 12805, 5304, 264, 892].
    out = run(0, "generate", "--model", q.toString(), "--prompt", "Once upon a time", "--temperature", "0",
        "--max-tokens", "6")[0];
    assertTrue(out.startsWith("Once upon a time"), out);
    assertEquals(5, promptTokens(out), out);
    // transformers' apply_chat_template of [{user: "Hi"}] with this tokenizer_config.json gives 11 ids:
    // <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>
    // assistant<|end_header_id|>\n\n.
    out = run(0, "generate", "--model", q.toString(), "--chat", "--prompt", "Hi", "--temperature", "0",
        "--max-tokens", "6")[0];
    assertEquals(11, promptTokens(out), out);
    assertFalse(out.contains("user"), "only the answer is printed: " + out);

    out = run(0, "inspect", "--model", q.toString())[0];
    assertTrue(out.contains("LlamaForCausalLM") && out.contains("theta 500000") && out.contains("llama3 (factor 8")
        && out.contains("2 bits"), out);
    JsonNode bench = lastJson(run(0, "bench", "generate", "--model", q.toString(), "--tokens", "4",
        "--warmup", "1", "--threads", "1")[0]);
    assertEquals(128256L * 64 * 2, bench.get("head_bytes_per_token").asLong(), "the untied fp16 head");
    assertTrue(bench.get("head_share").asDouble() > 0.9, bench.toString());
  }

  /**
   * Every other family, written by synth-model with a real tokenizer of the family (Qwen 2.5 and
   * Qwen 3 share one vocabulary; Gemma and Gemma 2 take Gemma 3's; Phi-3 is Llama 2's tokenizer),
   * through quantize (2 bits), ppl, generate and generate --chat. The prompt and chat token counts
   * are those of transformers' tokenizer and apply_chat_template (add_generation_prompt) on the same
   * files; ppl of random N(0, 0.02²) weights is near the vocabulary size.
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "{0} with {1}")
  @org.junit.jupiter.params.provider.CsvSource({
    "mistral, mistral-tokenizer, 5, -1",
    "qwen2, qwen3-tokenizer, 4, 9",
    "qwen3, qwen3-tokenizer, 4, 9",
    "gemma, gemma3-tokenizer, 5, 10",
    "gemma2, gemma3-tokenizer, 5, 10",
    "phi3, llama2-tokenizer, 5, -1",
  })
  void everyFamilyWithARealTokenizerQuantizesAndGenerates(String arch, String tokenizer,
      int promptIds, int chatIds) throws Exception {
    Path shared = models();
    Path text = shared.resolve("tinystories-sample.txt");
    Path model = tmp.resolve(arch);
    String out = run(0, "synth-model", "--arch", arch, "--tokenizer", shared.resolve(tokenizer).toString(),
        "--dim", "64", "--hidden", "128", "--heads", "4", "--layers", "2", "--ctx", "512", "--seed", "3",
        "--out", model.toString())[0];
    assertTrue(out.contains("(" + arch + ")"), out);
    JsonNode config = JSON.readTree(model.resolve("config.json").toFile());
    Path q = tmp.resolve(arch + "-q2");
    out = run(0, "quantize", "--model", model.toString(), "--bits", "2", "--calibration", text.toString(),
        "--ctx", "64", "--samples", "4", "--seed", "1", "--out", q.toString())[0];
    assertTrue(out.contains("layer 1 down"), out);
    JsonNode qc = JSON.readTree(q.resolve("config.json").toFile());
    assertEquals(config.get("architectures"), qc.get("architectures"), "the checkpoint keeps the architecture");
    int vocab = config.get("vocab_size").asInt();
    JsonNode r = lastJson(run(0, "ppl", "--model", q.toString(), "--text", text.toString(), "--heldout",
        "--ctx", "64", "--max-tokens", "200", "--json")[0]);
    double ppl = r.get("ppl").asDouble();
    assertTrue(ppl > 0.5 * vocab && ppl < 2 * vocab, arch + ": ppl " + ppl + ", vocabulary " + vocab);
    out = run(0, "generate", "--model", q.toString(), "--prompt", "Once upon a time", "--temperature", "0",
        "--max-tokens", "4")[0];
    assertTrue(out.startsWith("Once upon a time"), out);
    assertEquals(promptIds, promptTokens(out), out);
    if (chatIds > 0) {
      out = run(0, "generate", "--model", q.toString(), "--chat", "--prompt", "Hi", "--temperature", "0",
          "--max-tokens", "4")[0];
      assertEquals(chatIds, promptTokens(out), out);
    } else {
      String err = run(2, "generate", "--model", q.toString(), "--chat", "--prompt", "Hi")[1];
      assertTrue(err.startsWith("error: ") && err.contains("chat template"), err);
    }
  }

  static int promptTokens(String out) {
    Matcher m = Pattern.compile("(\\d+) prompt tokens").matcher(out);
    assertTrue(m.find(), out);
    return Integer.parseInt(m.group(1));
  }

  /**
   * The silent case of issue 19: a Mistral config saved by transformers 5 (rope_parameters, no
   * top-level rope_theta). ppl equals transformers' perplexity of the same tokens (the char-level
   * tokenizer's, ids checked against the tokenizers library) within 2e-5 (measured 1e-7), a
   * hundredth of the 1.9e-3 by which a loader using rope_theta 10000 would miss it.
   */
  @Test
  void mistralTransformers5ConfigGivesTransformersPerplexity() throws Exception {
    JsonNode ref = JSON.readTree(family("mistral-ppl.json").toFile());
    JsonNode config = JSON.readTree(family("mistral").resolve("config.json").toFile());
    assertFalse(config.has("rope_theta"));
    assertEquals(1e6, config.get("rope_parameters").get("rope_theta").asDouble());
    JsonNode r = lastJson(run(0, "ppl", "--model", family("mistral").toString(), "--tokenizer",
        family("char-tokenizer").resolve("tokenizer.json").toString(), "--text",
        family("ppl-text.txt").toString(), "--ctx", ref.get("ctx").asText(), "--json")[0]);
    assertEquals(ref.get("tokens").asInt(), r.get("tokens").asInt());
    int[] ids = io.github.quipsharp.tokenizer.Tokenizer.load(family("char-tokenizer").resolve("tokenizer.json"))
        .encode(Files.readString(family("ppl-text.txt")), true, false);
    assertEquals(ref.get("tokens").asInt(), ids.length);
    for (int i = 0; i < ref.get("first_ids").size(); i++) {
      assertEquals(ref.get("first_ids").get(i).asInt(), ids[i], "id " + i + " (the tokenizers library's)");
    }
    assertEquals(ref.get("predictions").asInt(), r.get("predictions").asInt());
    double want = ref.get("ppl").asDouble();
    double wrong = ref.get("ppl_rope_theta_10000").asDouble();
    double got = r.get("ppl").asDouble();
    System.out.printf("Mistral (transformers 5 config): ppl %.5f, transformers %.5f, with theta 10000 %.5f%n",
        got, want, wrong);
    assertTrue(Math.abs(wrong / want - 1) > 50 * 2e-5, "the fixture separates the two thetas");
    assertTrue(Math.abs(got / want - 1) <= 2e-5, got + " vs transformers' " + want);
  }

  /**
   * A checkpoint without the quipsharp section (the published reference layout; ReferenceCheckpointTest
   * covers the whole layout): inspect says which settings it does not know instead of defaults.
   */
  @Test
  void inspectOfThePublishedLayoutInventsNoSettings() throws Exception {
    Path tok = family("char-tokenizer").resolve("tokenizer.json");
    Path q = tmp.resolve("mistral-q2");
    run(0, "quantize", "--model", family("mistral").toString(), "--tokenizer", tok.toString(), "--calibration",
        family("ppl-text.txt").toString(), "--bits", "2", "--ctx", "32", "--out", q.toString());
    com.fasterxml.jackson.databind.node.ObjectNode c =
        (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(q.resolve("config.json").toFile());
    c.remove("quipsharp");
    JSON.writeValue(q.resolve("config.json").toFile(), c);
    String out = run(0, "inspect", "--model", q.toString())[0];
    assertTrue(out.contains("quantized: 2 bits, published QuIP# layout") && !out.contains("BLOCK_LDLQ")
        && !out.contains("seed 0"), out);
    JsonNode r = lastJson(run(0, "ppl", "--model", q.toString(), "--tokenizer", tok.toString(), "--text",
        family("ppl-text.txt").toString(), "--ctx", "64", "--json")[0]);
    assertEquals(2, r.get("bits").asInt());
    assertTrue(Double.isFinite(r.get("ppl").asDouble()));
  }

  /** synth-model's bad inputs: one line with exit code 2, and nothing written. */
  @Test
  void synthModelBadInputsAreOneLineAndWriteNothing() throws Exception {
    Path out = tmp.resolve("never");
    String err = run(2, "synth-model", "--arch", "llama4", "--dim", "32", "--out", out.toString())[1];
    assertTrue(err.startsWith("error: --arch llama4 is not one of llama, llama3") && err.strip().lines().count() == 1, err);
    err = run(2, "synth-model", "--tied", "--untied", "--dim", "32", "--out", out.toString())[1];
    assertTrue(err.contains("--tied and --untied"), err);
    Path qwen = models().resolve("qwen3-tokenizer");
    err = run(2, "synth-model", "--arch", "qwen3", "--tokenizer", qwen.toString(), "--vocab", "1000",
        "--dim", "32", "--heads", "4", "--hidden", "64", "--out", out.toString())[1];
    assertTrue(err.contains("151669 tokens") && err.contains("--vocab must be at least 151669")
        && err.strip().lines().count() == 1, err);
    err = run(2, "synth-model", "--tokenizer", tmp.resolve("absent").toString(), "--dim", "32",
        "--out", out.toString())[1];
    assertTrue(err.contains("--tokenizer") && err.contains("does not exist"), err);
    assertFalse(Files.exists(out), "nothing written");
    // A tensor over 2 GiB: the core's refusal, worded with the flags that shrink it.
    err = run(2, "synth-model", "--dtype", "f32", "--vocab", "1048576", "--dim", "1024", "--heads",
        "8", "--hidden", "64", "--layers", "1", "--out", out.toString())[1];
    assertTrue(err.startsWith("error: tensor model.embed_tokens.weight [1048576, 1024] would take "
        + "4294967296 bytes in float32") && err.contains("(use --dtype f16 or bf16, or a smaller "
        + "--vocab / --dim)") && err.strip().lines().count() == 1, err);
    assertFalse(Files.exists(out), "nothing written");
    // A config the engine refuses is named by the family asked for.
    err = run(2, "synth-model", "--head-dim", "3", "--dim", "32", "--heads", "4", "--hidden", "64",
        "--out", out.toString())[1];
    assertTrue(err.startsWith("error: synth-model --arch llama: ") && err.strip().lines().count() == 1,
        err);
    assertFalse(Files.exists(out), "nothing written");
    // A folder that holds an unrelated tokenizer: the new model would be read with it.
    Path busy = tmp.resolve("busy");
    Files.createDirectories(busy);
    Files.writeString(busy.resolve("tokenizer.json"), "{}");
    err = run(2, "synth-model", "--dim", "32", "--heads", "4", "--hidden", "64", "--out", busy.toString())[1];
    assertTrue(err.contains("already holds tokenizer files [tokenizer.json]"), err);
    try (var files = Files.list(busy)) {
      assertEquals(1, files.count());
    }
  }
}
