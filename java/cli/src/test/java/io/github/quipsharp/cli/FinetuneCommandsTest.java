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
  }
}
