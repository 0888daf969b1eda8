package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.OutputFolderException;
import io.github.quipsharp.model.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fine-tuning is a library: its errors name its settings ({@code FineTuneOptions.lr}, the output
 * folder), never a command line's flags ("--ft-lr", "--out"); the command line words them with its
 * flags from the typed fields these tests check.
 */
class FlagFreeMessagesTest {
  static final int CTX = 16;

  @TempDir Path tmp;

  private static void assertFlagFree(Throwable e) {
    assertFalse(e.getMessage().contains("--"), "names a flag: " + e.getMessage());
  }

  @Test
  void everyRemedyIsWordedWithTheSettingsNotTheFlags() {
    for (FineTuneException.Remedy r : FineTuneException.Remedy.values()) {
      FineTuneException e = new FineTuneException("end-to-end: the training loss became NaN", r,
          null);
      assertFlagFree(e);
      assertEquals(r, e.remedy());
      assertEquals("end-to-end: the training loss became NaN", e.detail());
      assertTrue(e.getMessage().contains(e.detail()), e.getMessage());
      assertEquals(r != FineTuneException.Remedy.NONE,
          e.getMessage().contains("FineTuneOptions."), r + ": " + e.getMessage());
    }
    assertEquals(FineTuneException.Remedy.NONE, new FineTuneException("shapes differ").remedy());
  }

  @Test
  void tooFewWindowsNamesTheWindowLength() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FineTuneOptions.E2E_DEFAULTS.validCount(1));
    assertFlagFree(e);
    assertTrue(e.getMessage().contains("have 1") && e.getMessage().contains("smaller ctx"),
        e.getMessage());
  }

  @Test
  void outputFolderRefusalsAreTypedAndNameNoFlag() throws Exception {
    LlamaConfig c = SyntheticCheckpoints.config(1);
    int[] cal = SyntheticCheckpoints.tokens(c, 8 * CTX, 1);
    Path[] fpAndQ = SyntheticCheckpoints.write(tmp, c, cal, CTX);
    FineTuneOptions opt = FineTuneOptions.E2E_DEFAULTS.withEpochs(1);

    Path file = Files.writeString(tmp.resolve("a-file"), "mine");
    OutputFolderException isFile = assertThrows(OutputFolderException.class,
        () -> EndToEndTuner.tune(fpAndQ[1], fpAndQ[0], cal, CTX, file, opt, null));
    assertEquals(OutputFolderException.Problem.IS_A_FILE, isFile.problem());
    assertEquals(file.toString(), isFile.folder());
    assertFlagFree(isFile);
    assertEquals("mine", Files.readString(file));

    Path busy = Files.createDirectories(tmp.resolve("busy"));
    Files.writeString(busy.resolve("notes.txt"), "mine");
    OutputFolderException notEmpty = assertThrows(OutputFolderException.class,
        () -> EndToEndTuner.tune(fpAndQ[1], fpAndQ[0], cal, CTX, busy, opt, null));
    assertEquals(OutputFolderException.Problem.NOT_EMPTY, notEmpty.problem());
    assertEquals(java.util.List.of("notes.txt"), notEmpty.entries());
    assertFlagFree(notEmpty);
    try (var entries = Files.list(busy)) {
      assertEquals(1, entries.count(), "nothing written");
    }

    Path interrupted = tmp.resolve("interrupted");
    Files.createDirectories(interrupted.resolve(EndToEndTuner.STATE));
    InterruptedFineTuningException held = assertThrows(InterruptedFineTuningException.class,
        () -> EndToEndTuner.tune(fpAndQ[1], fpAndQ[0], cal, CTX, interrupted, opt, null));
    assertEquals(interrupted.toString(), held.folder());
    assertTrue(held.getMessage().contains("FineTuneOptions.resume"), held.getMessage());
    assertFlagFree(held);
    assertTrue(Files.isDirectory(interrupted.resolve(EndToEndTuner.STATE)), "the state is kept");
  }
}
