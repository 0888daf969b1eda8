package io.github.quipsharp.cli;

import static io.github.quipsharp.cli.QuantizeMatrixCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.finetune.FineTuneException;
import io.github.quipsharp.finetune.FineTuneException.Remedy;
import io.github.quipsharp.finetune.InterruptedFineTuningException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fine-tuning's errors name its settings (FineTuneOptions.lr, the output folder); through quipsharp
 * they reach the user worded with the flags that change them (--ft-lr, --out, --resume).
 */
class FineTuneErrorWordingTest {
  @TempDir Path tmp;

  @Test
  void everyRemedyNamesItsFlags() {
    String detail = "end-to-end: the training loss became NaN at epoch 1";
    Map<Remedy, String> expected = Map.of(
        Remedy.NONE, detail,
        Remedy.LOWER_LEARNING_RATE, detail + "; run again with a lower --ft-lr",
        Remedy.LOWER_LEARNING_RATE_IN_A_NEW_RUN, detail + ". Quantization stopped; run it again "
            + "with a lower --ft-lr in a new --out (another learning rate cannot --resume this run)",
        Remedy.LOWER_BOTH_LEARNING_RATES, detail + "; set --ft-lr and --ft-sign-lr lower",
        Remedy.USE_THE_CPU_DEVICE, "--ft-device cuda: " + detail + "; use --ft-device cpu, or "
            + "build with -Ptorch-cuda on a machine with an NVIDIA GPU");
    assertEquals(Remedy.values().length, expected.size(), "every remedy has its wording here");
    for (Remedy r : Remedy.values()) {
      assertEquals(expected.get(r), Main.errors().messageOf(new FineTuneException(detail, r, null)),
          r.toString());
    }
    assertEquals("/x/t holds an interrupted fine-tuning; pass --resume to continue it, or choose "
        + "another --out", Main.errors().messageOf(new InterruptedFineTuningException("/x/t")));
  }

  /** finetune into a file, a busy folder and an interrupted fine-tuning: one line naming --out. */
  @Test
  void finetuneOutputFolderRefusalsNameTheFlags() throws Exception {
    String model = FinetuneCommandsTest.familyFixture("llama3").toString();
    String tok = FinetuneCommandsTest.familyFixture("char-tokenizer").resolve("tokenizer.json")
        .toString();
    String text = FinetuneCommandsTest.familyFixture("ppl-text.txt").toString();
    Path q = tmp.resolve("q");
    run(0, "quantize", "--model", model, "--tokenizer", tok, "--bits", "2", "--calibration", text,
        "--ctx", "32", "--out", q.toString());

    Path file = Files.writeString(tmp.resolve("a-file"), "mine");
    Path busy = Files.createDirectories(tmp.resolve("busy"));
    Files.writeString(busy.resolve("notes.txt"), "mine");
    Path interrupted = Files.createDirectories(tmp.resolve("interrupted").resolve(".finetune"))
        .getParent();
    Map<Path, String> expected = Map.of(
        file, "error: --out " + file + " is a file, not a folder",
        busy, "error: --out " + busy + " exists and is not empty (it holds notes.txt); choose a "
            + "new or empty folder (nothing was overwritten)",
        interrupted, "error: " + interrupted + " holds an interrupted fine-tuning; pass --resume "
            + "to continue it, or choose another --out");
    for (Map.Entry<Path, String> e : expected.entrySet()) {
      String err = run(2, "finetune", "--checkpoint", q.toString(), "--model", model,
          "--tokenizer", tok, "--calibration", text, "--ctx", "32", "--out",
          e.getKey().toString(), "--ft-epochs", "1", "--ft-lr", "1e-4")[1].strip();
      assertEquals(e.getValue(), err);
    }
    assertEquals("mine", Files.readString(file));
    try (var entries = Files.list(busy)) {
      assertEquals(1, entries.count(), "nothing written into " + busy);
    }
    try (var entries = Files.list(interrupted)) {
      assertEquals(1, entries.count(), "nothing written into " + interrupted);
    }
    assertTrue(Files.isDirectory(interrupted.resolve(".finetune")), "the state is kept");
  }
}
