package io.github.quipsharp.cli;

import static io.github.quipsharp.cli.QuantizeMatrixCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** quantize --finetune and finetune on stories260K (short runs), and their errors. */
class FinetuneCommandsTest {
  @TempDir Path tmp;

  static JsonNode config(Path ck) throws Exception {
    return new ObjectMapper().readTree(ck.resolve("config.json").toFile());
  }

  @Test
  void quantizeWithBothFineTuningsThenFinetuneAgain() throws Exception {
    Path models = ModelCommandsTest.models();
    String model = models.resolve("stories260K-hf").toString();
    String text = models.resolve("tinystories-sample.txt").toString();
    Path q = tmp.resolve("q");
    String[] r = run(0, "quantize", "--model", model, "--bits", "2", "--calibration", text,
        "--samples", "24", "--seed", "1", "--out", q.toString(), "--finetune", "both",
        "--ft-epochs", "1", "--ft-windows", "24");
    String out = r[0];
    assertTrue(out.contains("tune layer 4 after up") && out.contains("epoch 1/1"), out);
    assertTrue(out.contains("end-to-end fine-tuning: 1 epochs"), out);
    assertTrue(r[1].contains("Tuning"), "progress bars on stderr: " + r[1]);
    JsonNode c = config(q);
    assertTrue(c.path("quipsharp").path("finetune").path("finished").asBoolean(), c.toString());
    assertEquals(1, c.path("quipsharp").path("blockwise_finetune").path("epochs").asInt());
    assertFalse(c.path("tie_word_embeddings").asBoolean(true), "tuned head is untied");
    JsonNode ppl = ModelCommandsTest.lastJson(run(0, "ppl", "--model", q.toString(), "--text",
        text, "--heldout", "--json")[0]);
    assertTrue(Double.isFinite(ppl.get("ppl").asDouble()));

    // finetune finds the fp model from the checkpoint's config and tunes into a new folder.
    Path t = tmp.resolve("t");
    out = run(0, "finetune", "--checkpoint", q.toString(), "--calibration", text, "--out",
        t.toString(), "--ft-epochs", "1", "--ft-windows", "12", "--ft-lr", "1e-4")[0];
    assertTrue(out.contains("SU/SV 0.001") && out.contains("wrote " + t), out);
    assertEquals(1e-3, config(t).path("quipsharp").path("finetune").path("options")
        .path("sign_lr").asDouble(), 1e-12);
  }

  static Path familyFixture(String name) {
    return Path.of("..", "core", "src", "test", "resources", "families", name).toAbsolutePath().normalize();
  }

  /**
   * quantize --finetune both and finetune on the transformers fixtures of Gemma 2 (four norms per
   * layer, soft-caps, windows, tied head) and Qwen 3 (q/k norms), with the fixtures' character
   * tokenizer; the tuned checkpoints run in ppl and generate.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"gemma2", "qwen3"})
  void everyFamilyFineTunesFromTheCommandLine(String name) throws Exception {
    String model = familyFixture(name).toString();
    String tok = familyFixture("char-tokenizer").resolve("tokenizer.json").toString();
    String text = familyFixture("ppl-text.txt").toString();
    Path q = tmp.resolve(name + "-q");
    String[] r = run(0, "quantize", "--model", model, "--tokenizer", tok, "--bits", "2",
        "--calibration", text, "--ctx", "32", "--seed", "1", "--out", q.toString(), "--finetune",
        "both", "--ft-epochs", "1", "--ft-lr", "1e-4", "--ft-sign-lr", "1e-3");
    assertTrue(r[0].contains("tune layer 1 after up") && r[0].contains("end-to-end fine-tuning: 1 epochs"),
        r[0]);
    JsonNode c = config(q);
    assertTrue(c.path("quipsharp").path("finetune").path("finished").asBoolean(), c.toString());
    assertEquals(name.equals("gemma2") ? "Gemma2ForCausalLM" : "Qwen3ForCausalLM",
        c.path("architectures").get(0).asText());
    JsonNode ppl = ModelCommandsTest.lastJson(run(0, "ppl", "--model", q.toString(), "--tokenizer",
        tok, "--text", text, "--ctx", "32", "--json")[0]);
    assertTrue(Double.isFinite(ppl.get("ppl").asDouble()), ppl.toString());
    Path t = tmp.resolve(name + "-t");
    String out = run(0, "finetune", "--checkpoint", q.toString(), "--model", model, "--tokenizer",
        tok, "--calibration", text, "--ctx", "32", "--out", t.toString(), "--ft-epochs", "1",
        "--ft-lr", "1e-4", "--ft-sign-lr", "1e-3")[0];
    assertTrue(out.contains("wrote " + t), out);
    out = run(0, "generate", "--model", t.toString(), "--tokenizer", tok, "--prompt", "The",
        "--temperature", "0", "--max-tokens", "4")[0];
    assertTrue(out.startsWith("The"), out);
  }

  /**
   * The defaults (auto learning rates) choose on the validation windows of the calibration part:
   * two texts with the same calibration part and different evaluation tails give the same sweep
   * and the same checkpoint, byte for byte.
   */
  @Test
  void autoLearningRatesNeverReadTheEvaluationText() throws Exception {
    Path models = ModelCommandsTest.models();
    String model = models.resolve("stories260K-hf").toString();
    String text = Files.readString(models.resolve("tinystories-sample.txt"));
    // The same text with the stories of its last quarter in reverse order.
    int cut = text.indexOf("\n", (int) (text.length() * 0.8));
    String[] tail = text.substring(cut + 1).split("\n", -1);
    java.util.Collections.reverse(java.util.Arrays.asList(tail));
    Path a = tmp.resolve("a.txt");
    Path b = tmp.resolve("b.txt");
    Files.writeString(a, text);
    Files.writeString(b, text.substring(0, cut + 1) + String.join("\n", tail));
    io.github.quipsharp.tokenizer.Tokenizer tok = io.github.quipsharp.tokenizer.Tokenizer.forModel(
        models.resolve("stories260K-hf"));
    int[] ta = tok.encode(Files.readString(a), true, false);
    int[] tb = tok.encode(Files.readString(b), true, false);
    org.junit.jupiter.api.Assertions.assertArrayEquals(
        io.github.quipsharp.CalibrationSplit.calibration(ta, 0.75),
        io.github.quipsharp.CalibrationSplit.calibration(tb, 0.75), "same calibration part");
    assertFalse(java.util.Arrays.equals(io.github.quipsharp.CalibrationSplit.heldout(ta, 0.75),
        io.github.quipsharp.CalibrationSplit.heldout(tb, 0.75)), "different evaluation text");
    Path q = tmp.resolve("q");
    run(0, "quantize", "--model", model, "--bits", "2", "--calibration", a.toString(),
        "--samples", "12", "--seed", "1", "--out", q.toString());
    String[] outs = new String[2];
    Path[] tuned = {tmp.resolve("ta"), tmp.resolve("tb")};
    for (int i = 0; i < 2; i++) {
      outs[i] = run(0, "finetune", "--checkpoint", q.toString(), "--calibration",
          (i == 0 ? a : b).toString(), "--out", tuned[i].toString(), "--ft-windows", "12",
          "--ft-epochs", "1")[0];
    }
    assertTrue(outs[0].contains("lr auto") && outs[0].contains("(chosen by the sweep)"), outs[0]);
    org.junit.jupiter.api.Assertions.assertArrayEquals(
        Files.readAllBytes(tuned[0].resolve("model.safetensors")),
        Files.readAllBytes(tuned[1].resolve("model.safetensors")));
    JsonNode ft = config(tuned[0]).path("quipsharp").path("finetune");
    assertEquals(16, ft.path("lr_sweep").path("points").size(), ft.toString());
    JsonNode other = config(tuned[1]).path("quipsharp").path("finetune").path("lr_sweep");
    for (int i = 0; i < 16; i++) { // the same points (their wall times aside)
      assertEquals(ft.path("lr_sweep").path("points").get(i).path("valid_loss"),
          other.path("points").get(i).path("valid_loss"), "point " + (i + 1));
    }
    assertEquals(ft.path("lr_sweep").path("chosen_lr").asDouble(), ft.path("lr").asDouble());
    assertEquals("epochs_done", ft.path("stop_reason").asText());
  }

  @Test
  void badFinetuneInputsAreOneLineErrors() throws Exception {
    Path models = ModelCommandsTest.models();
    String text = models.resolve("tinystories-sample.txt").toString();
    String err = run(2, "finetune", "--checkpoint", models.resolve("stories260K-hf").toString(),
        "--calibration", text, "--out", tmp.resolve("o").toString())[1];
    assertTrue(err.startsWith("error: ") && err.contains("not a quantized checkpoint"), err);
    assertEquals(1, err.strip().split("\n").length, err);
    err = run(2, "quantize", "--model", models.resolve("stories260K-hf").toString(), "--bits", "2",
        "--calibration", text, "--out", tmp.resolve("p").toString(), "--finetune", "e2e",
        "--ft-lr", "-1")[1];
    assertTrue(err.contains("learning rates must be positive"), err);
    assertFalse(Files.exists(tmp.resolve("p")), "nothing written for a bad setting");
    err = run(2, "quantize", "--model", models.resolve("stories260K-hf").toString(), "--bits", "2",
        "--calibration", text, "--out", tmp.resolve("p").toString(), "--finetune", "sometimes")[1];
    assertTrue(err.contains("--finetune") && err.contains("none, block, e2e, both"), err);
    String[][] bad = {
      {"--ft-lr", "fast", "--ft-lr fast is neither a number nor auto"},
      {"--ft-epochs", "many", "--ft-epochs many is neither a whole number nor auto"},
      {"--ft-budget", "2 days", "--ft-budget 2 days is not a duration"},
      {"--ft-precision", "fp8", "--ft-precision fp8 is not one of fp32, bf16"},
      {"--ft-device", "tpu", "--ft-device tpu is not one of cpu, cuda"},
    };
    for (String[] b : bad) {
      err = run(2, "quantize", "--model", models.resolve("stories260K-hf").toString(), "--bits",
          "2", "--calibration", text, "--out", tmp.resolve("p").toString(), "--finetune", "e2e",
          b[0], b[1])[1];
      assertTrue(err.startsWith("error: ") && err.contains(b[2]), err);
      assertEquals(1, err.strip().split("\n").length, err);
      assertFalse(Files.exists(tmp.resolve("p")), "nothing written for " + b[0] + " " + b[1]);
    }
  }

  @Test
  void cudaWithoutADeviceIsAOneLineError() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeFalse(
        io.github.quipsharp.finetune.FineTuning.cudaAvailable(), "a CUDA device is present");
    Path models = ModelCommandsTest.models();
    Path q = tmp.resolve("q");
    String text = models.resolve("tinystories-sample.txt").toString();
    run(0, "quantize", "--model", models.resolve("stories260K-hf").toString(), "--bits", "2",
        "--calibration", text, "--samples", "4", "--out", q.toString());
    String err = run(2, "finetune", "--checkpoint", q.toString(), "--calibration", text, "--out",
        tmp.resolve("t").toString(), "--ft-device", "cuda")[1];
    assertTrue(err.startsWith("error: --ft-device cuda: libtorch sees no CUDA device"), err);
    assertEquals(1, err.strip().split("\n").length, err);
    assertFalse(Files.exists(tmp.resolve("t")), "nothing written");
  }

  /**
   * Fine-tuning names a differing setting by its key (options.lr); the command line adds the flag
   * that sets it. A saved state with another learning rate is refused, and kept.
   */
  @Test
  void resumingWithOtherSettingsNamesTheFlag() throws Exception {
    Path models = ModelCommandsTest.models();
    Path q = tmp.resolve("q");
    String text = models.resolve("tinystories-sample.txt").toString();
    run(0, "quantize", "--model", models.resolve("stories260K-hf").toString(), "--bits", "2",
        "--calibration", text, "--samples", "4", "--out", q.toString());
    Path t = tmp.resolve("t");
    Path runJson = t.resolve(".finetune").resolve("run.json");
    Files.createDirectories(runJson.getParent());
    Files.writeString(runJson, "{\"stage\": \"end_to_end\", \"options\": {\"lr\": 12345}}");
    String err = run(2, "finetune", "--checkpoint", q.toString(), "--calibration", text, "--out",
        t.toString(), "--ft-lr", "1e-4", "--resume")[1];
    assertTrue(err.startsWith("error: cannot resume in " + t + ": the interrupted fine-tuning used "
        + "other settings: ") && err.contains("options.lr (--ft-lr) was 12345, now 1.0E-4"), err);
    assertEquals(1, err.strip().split("\n").length, err);
    assertTrue(Files.exists(runJson), "the saved state is kept");
  }
}
