package io.github.quipsharp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The core's typed errors and events name facts, not flags; through quipsharp quantize they reach
 * the user worded with the flags (--out, --ctx) by the shared one-line error mapping.
 */
class CoreErrorWordingTest {
  @TempDir Path tmp;

  @Test
  void quantizeIntoAFolderThatIsNotEmptyNamesTheFlag() throws Exception {
    Path out = Files.createDirectories(tmp.resolve("busy"));
    Files.writeString(out.resolve("notes.txt"), "mine");
    Path model = ModelCommandsTest.family("llama3");
    String err = QuantizeMatrixCommandTest.run(2, "quantize", "--model", model.toString(),
        "--tokenizer", ModelCommandsTest.family("char-tokenizer").resolve("tokenizer.json").toString(),
        "--calibration", ModelCommandsTest.family("ppl-text.txt").toString(), "--bits", "2",
        "--ctx", "32", "--out", out.toString())[1].strip();
    assertEquals("error: --out " + out + " exists and is not empty (it holds notes.txt); choose a "
        + "new or empty folder (nothing was overwritten)", err);
    assertEquals("mine", Files.readString(out.resolve("notes.txt")));
    try (var entries = Files.list(out)) {
      assertEquals(1, entries.count());
    }
  }

  /** The core reports windows past the context as facts; the command line's warning names --ctx. */
  @Test
  void anAllowedLongerContextIsAWarningNamingTheFlag() throws Exception {
    Path out = tmp.resolve("q");
    String err = QuantizeMatrixCommandTest.run(0, "quantize", "--model",
        ModelCommandsTest.family("llama3").toString(), "--tokenizer",
        ModelCommandsTest.family("char-tokenizer").resolve("tokenizer.json").toString(),
        "--calibration", ModelCommandsTest.family("ppl-text.txt").toString(), "--bits", "2",
        "--ctx", "300", "--allow-longer-context", "--out", out.toString())[1];
    assertTrue(err.contains("warning: --ctx 300 exceeds the model's context length 256 "
        + "(max_position_embeddings)"), err);
    assertTrue(Files.exists(out.resolve("config.json")));
  }
}
