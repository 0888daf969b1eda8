package io.github.quipsharp.cli;

import static io.github.quipsharp.cli.QuantizeMatrixCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model commands end to end on a small synthetic model (widths that need padding) and on the
 * real stories260K; errors are one line with exit code 2.
 */
class ModelCommandsTest {
  @TempDir Path tmp;

  static Path models() {
    try {
      return ModelsFolder.find(null);
    } catch (IllegalArgumentException e) {
      assumeTrue(false, "skipped: " + e.getMessage());
      return null;
    }
  }

  static JsonNode lastJson(String out) throws Exception {
    String[] lines = out.strip().split("\n");
    return new ObjectMapper().readTree(lines[lines.length - 1]);
  }

  /** The transformers-written family fixtures of the core module's tests. */
  static Path family(String name) {
    return Path.of("..", "core", "src", "test", "resources", "families", name);
  }

  @Test
  void inspectShowsTheFamilyAndItsRope() {
    String llama3 = run(0, "inspect", "--model", family("llama3").toString())[0];
    assertTrue(llama3.contains("LlamaForCausalLM (family llama)") && llama3.contains("theta 500000")
        && llama3.contains("llama3 (factor 8, low_freq_factor 1, high_freq_factor 4, original context 16)")
        && llama3.contains("tied embeddings"), llama3);
    String gemma2 = run(0, "inspect", "--model", family("gemma2").toString())[0];
    assertTrue(gemma2.contains("Gemma2ForCausalLM (family gemma2)") && gemma2.contains("gelu_pytorch_tanh")
        && gemma2.contains("attention soft-cap 1.5") && gemma2.contains("final soft-cap 30.0")
        && gemma2.contains("sliding window 8 on layers [0, 2]"), gemma2);
    String phi3 = run(0, "inspect", "--model", family("phi3").toString())[0];
    assertTrue(phi3.contains("partial_rotary_factor 0.5, rotating 4 of 8 dims"), phi3);
    String yarn = run(0, "inspect", "--model", family("llama-yarn-custom").toString())[0];
    assertTrue(yarn.contains("yarn (factor 8, original context 32, attention_factor default, beta_fast 8, "
        + "beta_slow 2, mscale 1.5, mscale_all_dim 0.5, truncate false)"), yarn);
  }

  @Test
  void syntheticModelThroughEveryCommand() throws Exception {
    Path text = tmp.resolve("text.txt");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 400; i++) {
      sb.append("the quick brown fox ").append(i).append(" jumps over the lazy dog.\n");
    }
    Files.writeString(text, sb);
    Path model = tmp.resolve("synth");
    String out = run(0, "synth-model", "--dim", "64", "--hidden", "100", "--layers", "2",
        "--heads", "4", "--kv-heads", "2", "--vocab", "300", "--dtype", "f16", "--seed", "3",
        "--ctx", "256", "--out", model.toString())[0];
    assertTrue(out.contains("wrote"), out);
    assertTrue(Files.exists(model.resolve("tokenizer.bin")));
    // It is an ordinary HF model: perplexity of random weights is near the vocabulary size.
    JsonNode fp = lastJson(run(0, "ppl", "--model", model.toString(), "--text", text.toString(),
        "--max-tokens", "600", "--json")[0]);
    assertEquals(600, fp.get("tokens").asInt());
    assertEquals(599, fp.get("predictions").asInt());
    assertTrue(fp.get("ppl").asDouble() > 100 && fp.get("ppl").asDouble() < 1000, fp.toString());
    Path q = tmp.resolve("q");
    out = run(0, "quantize", "--model", model.toString(), "--bits", "3", "--calibration",
        text.toString(), "--ctx", "64", "--samples", "6", "--seed", "2", "--threads", "2",
        "--out", q.toString())[0];
    assertTrue(out.contains("layer 1 down") && out.contains("RHT 64 x 104"), out);
    out = run(0, "inspect", "--model", q.toString())[0];
    assertTrue(out.contains("3 bits") && out.contains("padded layer groups: yes"), out);
    assertTrue(out.contains("up   200 x 64 (RHT 208 x 64"), out);
    JsonNode qp = lastJson(run(0, "ppl", "--model", q.toString(), "--text", text.toString(),
        "--heldout", "--json")[0]);
    assertEquals(3, qp.get("bits").asInt());
    assertTrue(Double.isFinite(qp.get("ppl").asDouble()));
    out = run(0, "generate", "--model", q.toString(), "--prompt", "the quick", "--max-tokens",
        "12", "--seed", "5")[0];
    assertTrue(out.startsWith("the quick") && out.contains("tokens/s"), out);
    JsonNode bench = lastJson(run(0, "bench", "generate", "--model", q.toString(), "--tokens", "8",
        "--warmup", "1", "--threads", "1")[0]);
    assertEquals("generate", bench.get("benchmark").asText());
    assertTrue(bench.get("tokens_per_s").asDouble() > 0, bench.toString());
    assertEquals(3, bench.get("quantized_bits").asInt());
    // The same seed gives the same text.
    assertEquals(out.split("\n")[0], run(0, "generate", "--model", q.toString(), "--prompt",
        "the quick", "--max-tokens", "12", "--seed", "5")[0].split("\n")[0]);
  }

  @Test
  void storiesPerplexityAndGreedyStory() throws Exception {
    Path m = models();
    JsonNode r = lastJson(run(0, "ppl", "--model", m.resolve("stories260K/stories260K.bin").toString(),
        "--text", m.resolve("tinystories-sample.txt").toString(), "--max-tokens", "20000",
        "--json")[0]);
    assertEquals(19999, r.get("predictions").asInt());
    assertEquals(4.3931, r.get("ppl").asDouble(), 5e-5);
    String out = run(0, "generate", "--model", m.resolve("stories260K-hf").toString(), "--prompt",
        "Once upon a time", "--temperature", "0", "--max-tokens", "40")[0];
    assertTrue(out.startsWith("Once upon a time, there was a little girl named Lily. She loved to "
        + "play outside in the park. One day, she saw a big, red ball."), out);
  }

  @Test
  void demoQuantizesMeasuresAndTellsStories() throws Exception {
    Path m = models();
    Path out = tmp.resolve("demo");
    // A short fine-tuning (1 epoch on 24 windows) stands for the default 5 epochs on all 215.
    String stdout = run(0, "demo", "--models", m.toString(), "--out", out.toString(),
        "--max-tokens", "20", "--threads", "2", "--ft-epochs", "1", "--ft-windows", "24")[0];
    assertTrue(stdout.contains("story from the fp32 model") && stdout.contains("story from the 2-bit model")
        && stdout.contains("story from the fine-tuned 2-bit model"), stdout);
    JsonNode r = lastJson(stdout);
    assertEquals(18429, r.get("predictions").asInt());
    assertEquals(6.8117, r.get("ppl_fp32").asDouble(), 5e-5);
    double ratio = r.get("ppl").asDouble() / r.get("ppl_fp32").asDouble();
    assertTrue(ratio > 1 && ratio <= 16, "2-bit / fp32 = " + ratio);
    assertTrue(Files.exists(out.resolve("model.safetensors")));
    assertTrue(r.get("ppl_finetuned").asDouble() < r.get("ppl").asDouble(), r.toString());
    assertTrue(Files.exists(Path.of(r.get("finetuned_checkpoint").asText()).resolve("model.safetensors")));
  }

  @Test
  void badInputIsOneLineAndExitCode2() throws Exception {
    Path m = models();
    String err = run(2, "ppl", "--model", tmp.resolve("missing").toString(), "--text",
        m.resolve("tinystories-sample.txt").toString())[1];
    assertTrue(err.startsWith("error: ") && err.strip().split("\n").length == 1, err);
    Path empty = tmp.resolve("empty.txt");
    Files.writeString(empty, "");
    err = run(2, "quantize", "--model", m.resolve("stories260K-hf").toString(), "--bits", "2",
        "--calibration", empty.toString(), "--out", tmp.resolve("o").toString())[1];
    assertTrue(err.contains("is empty"), err);
    Path shortText = tmp.resolve("short.txt");
    Files.writeString(shortText, "Once upon a time.");
    err = run(2, "quantize", "--model", m.resolve("stories260K-hf").toString(), "--bits", "2",
        "--calibration", shortText.toString(), "--out", tmp.resolve("o").toString())[1];
    assertTrue(err.contains("too short"), err);
    assertFalse(Files.exists(tmp.resolve("o")), "nothing written");
    err = run(2, "quantize", "--model", m.resolve("stories260K-hf").toString(), "--bits", "5",
        "--calibration", shortText.toString(), "--out", tmp.resolve("o").toString())[1];
    assertTrue(err.contains("bits = 5"), err);
  }
}
