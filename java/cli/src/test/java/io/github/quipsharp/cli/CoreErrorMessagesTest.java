package io.github.quipsharp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.ContextTooLongException;
import io.github.quipsharp.InterruptedRunException;
import io.github.quipsharp.OutputFolderException;
import io.github.quipsharp.ResumeMismatchException;
import io.github.quipsharp.internal.SettingsDiff;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The core's typed errors name no flag; the command line words them with its flags (--out,
 * --resume, --ctx, --allow-longer-context, the flag of each differing setting).
 */
class CoreErrorMessagesTest {
  @TempDir Path tmp;

  @Test
  void eachTypedErrorIsWordedWithTheFlagsThatChangeIt() {
    assertEquals("--out /x is a file, not a folder", CoreErrorMessages.of(new OutputFolderException(
        "/x", OutputFolderException.Problem.IS_A_FILE, List.of(), null, null)));
    assertEquals("/o holds an interrupted run; pass --resume to continue it, choose another --out, "
        + "or delete /o to start over", CoreErrorMessages.of(new InterruptedRunException("/o")));
    ResumeMismatchException m = new ResumeMismatchException("/o", List.of(
        new SettingsDiff.Difference("quant_config.bits", "quant_config.bits", "was 2, now 3")));
    assertFalse(m.getMessage().contains("--"), m.getMessage());
    assertEquals("cannot resume in /o: the interrupted run used other settings: quant_config.bits "
        + "(--bits) was 2, now 3 (use the same ones, or delete /o to start over)",
        CoreErrorMessages.of(m));
    ContextTooLongException c = new ContextTooLongException(1024, 512);
    assertFalse(c.getMessage().contains("--"), c.getMessage());
    assertEquals("--ctx 1024 exceeds the model's context length 512 (max_position_embeddings); use "
        + "at most 512, or --allow-longer-context to run past it anyway", CoreErrorMessages.of(c));
    assertNull(CoreErrorMessages.of(new IllegalArgumentException("other")));
  }

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
