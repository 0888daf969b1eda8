package io.github.quipsharp.cli.options;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.github.quipsharp.ContextTooLongException;
import io.github.quipsharp.InterruptedRunException;
import io.github.quipsharp.OutputFolderException;
import io.github.quipsharp.ResumeMismatchException;
import io.github.quipsharp.SettingDifference;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The core's typed errors name no flag; the command line words them with its flags (--out,
 * --resume, --ctx, --allow-longer-context, the flag of each differing setting).
 */
class CoreErrorMessagesTest {
  @Test
  void eachTypedErrorIsWordedWithTheFlagsThatChangeIt() {
    assertEquals("--out /x is a file, not a folder", CoreErrorMessages.of(new OutputFolderException(
        "/x", OutputFolderException.Problem.IS_A_FILE, List.of(), null, null)));
    assertEquals("/o holds an interrupted run; pass --resume to continue it, choose another --out, "
        + "or delete /o to start over", CoreErrorMessages.of(new InterruptedRunException("/o")));
    ResumeMismatchException m = new ResumeMismatchException("/o", List.of(
        new SettingDifference("quant_config.bits", "quant_config.bits", "was 2, now 3")));
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

  /** Each differing setting is named with the flag that sets it (the table moved out of core). */
  @Test
  void resumeDifferencesAreNamedWithTheirFlags() {
    List<SettingDifference> d = List.of(
        new SettingDifference("ctx", "ctx", "was 256, now 128"),
        new SettingDifference("quant_config.bits", "quant_config.bits", "was 2, now 3"),
        new SettingDifference("quant_config.damping", "quant_config.damping", "was 0.01, now 0.02"),
        new SettingDifference("options.lr", "options.lr", "was 5.0E-5, now 1.0E-4"),
        new SettingDifference("model_files", "model file model.safetensors", "is gone"));
    assertEquals("ctx (--ctx) was 256, now 128; quant_config.bits (--bits) was 2, now 3; "
        + "quant_config.damping was 0.01, now 0.02; options.lr (--ft-lr) was 5.0E-5, now 1.0E-4; "
        + "model file model.safetensors is gone", SettingFlags.describe(d));
    ResumeMismatchException ft = new ResumeMismatchException("/o", "cannot resume in /o: the "
        + "interrupted fine-tuning used other settings: ", "/o/.state", d.subList(3, 4));
    assertEquals("cannot resume in /o: the interrupted fine-tuning used other settings: options.lr "
        + "was 5.0E-5, now 1.0E-4 (use the same ones, or delete /o/.state to start over)",
        ft.getMessage());
    assertEquals("cannot resume in /o: the interrupted fine-tuning used other settings: options.lr "
        + "(--ft-lr) was 5.0E-5, now 1.0E-4 (use the same ones, or delete /o/.state to start over)",
        CoreErrorMessages.of(ft));
  }

  /** A changed checkpoint and an unfinished run as a model: the command line names its flags. */
  @Test
  void checkpointAndModelPathErrorsNameTheirFlags() {
    io.github.quipsharp.CheckpointChangedException c = new io.github.quipsharp.CheckpointChangedException(
        java.nio.file.Path.of("/q/model.safetensors"), "tensor t is missing (config.json records its digest)");
    assertFalse(c.getMessage().contains("--"), c.getMessage());
    assertEquals("/q/model.safetensors: tensor t is missing (config.json records its digest); "
        + "--no-verify loads it anyway", CoreErrorMessages.of(c));
    io.github.quipsharp.UnfinishedRunException u = new io.github.quipsharp.UnfinishedRunException(
        java.nio.file.Path.of("/runs/a"));
    assertFalse(u.getMessage().contains("--"), u.getMessage());
    assertEquals("/runs/a: holds an unfinished quantization run (.partial), not a model: finish it "
        + "with quantize --resume --out /runs/a, or delete the folder", CoreErrorMessages.of(u));
    // Ahead of the QuipsharpException rule they extend.
    assertEquals(CoreErrorMessages.of(c), OneLineErrors.standard().messageOf(c));
  }
}
