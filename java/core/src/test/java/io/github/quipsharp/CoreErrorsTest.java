package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.OutputFolders;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.safetensors.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The core's refusals are typed and carry their facts, and their messages name no command-line
 * flag (the command line adds its own wording; see the cli module's CoreErrorMessagesTest).
 */
class CoreErrorsTest {
  @TempDir Path tmp;

  static void assertNoFlag(Exception e) {
    assertFalse(e.getMessage().contains("--"), "the core names a flag: " + e.getMessage());
  }

  @Test
  void outputFolderProblemsNameTheFolderAndWhatIsInIt() throws Exception {
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    OutputFolderException e = assertThrows(OutputFolderException.class,
        () -> OutputFolders.requireEmpty(file));
    assertEquals(OutputFolderException.Problem.IS_A_FILE, e.problem());
    assertEquals(file.toString(), e.folder());
    assertEquals("output folder " + file + " is a file, not a folder", e.getMessage());
    assertEquals("--out " + file + " is a file, not a folder", e.describe("--out"));

    Path busy = Files.createDirectories(tmp.resolve("busy"));
    for (String n : new String[] {"e", "d", "c", "b", "a"}) {
      Files.writeString(busy.resolve(n), n);
    }
    e = assertThrows(OutputFolderException.class, () -> OutputFolders.createEmpty(busy, busy.resolve("x")));
    assertEquals(OutputFolderException.Problem.NOT_EMPTY, e.problem());
    assertEquals(List.of("a", "b", "c", "d"), e.entries());
    assertTrue(e.getMessage().contains("exists and is not empty (it holds a, b, c, ...)"), e.getMessage());
    assertNoFlag(e);
    assertFalse(Files.exists(busy.resolve("x")), "created a folder in a refused output folder");
    OutputFolders.requireEmpty(tmp.resolve("absent")); // a missing folder is fine
  }

  @Test
  void aSyntheticModelRefusesAFolderWithTokenizerFiles() throws Exception {
    Path out = Files.createDirectories(tmp.resolve("m"));
    Files.writeString(out.resolve("tokenizer.json"), "{}");
    LlamaConfig c = SyntheticModel.Arch.LLAMA.config(SyntheticModelTest.TINY, DType.F32, 1, 2);
    OutputFolderException e = assertThrows(OutputFolderException.class,
        () -> SyntheticModel.write(out, c, DType.F32, 1, null));
    assertEquals(OutputFolderException.Problem.HOLDS_TOKENIZER_FILES, e.problem());
    assertEquals(List.of("tokenizer.json"), e.entries());
    assertNoFlag(e);
    assertTrue(e.describe("--out").startsWith("--out " + out + " is not empty: it already holds "
        + "tokenizer files [tokenizer.json]"), e.describe("--out"));
    try (var entries = Files.list(out)) {
      assertEquals(1, entries.count(), "wrote into the refused folder");
    }
  }

  @Test
  void aContextLongerThanTheModelsCarriesBothLengths() {
    LlamaConfig c = SyntheticModel.Arch.LLAMA.config(SyntheticModelTest.TINY, DType.F32, 1, 2);
    int max = c.maxSeqLen();
    ContextTooLongException.require(c, max, false);
    ContextTooLongException.require(c, max + 1, true);
    ContextTooLongException e = assertThrows(ContextTooLongException.class,
        () -> ContextTooLongException.require(c, max + 1, false));
    assertEquals(max + 1, e.length());
    assertEquals(max, e.contextLength());
    assertTrue(e.getMessage().startsWith("ctx " + (max + 1) + " exceeds the model's context length "
        + max), e.getMessage());
    assertNoFlag(e);
  }

  /** A changed checkpoint is typed, says what changed, and names no flag to load it anyway. */
  @Test
  void aChangedCheckpointNamesWhatChangedButNoFlag() throws Exception {
    com.fasterxml.jackson.databind.node.ObjectNode c = CheckpointIntegrityTest.json(
        "{'num_hidden_layers': 5, 'quipsharp': {}}");
    CheckpointIntegrity.record(c, java.util.Map.of("t", "00000000"));
    CheckpointIntegrity in = CheckpointIntegrity.read(c, Path.of("config.json"));
    com.fasterxml.jackson.databind.node.ObjectNode changed = c.deepCopy();
    changed.put("num_hidden_layers", 4);
    CheckpointChangedException e = assertThrows(CheckpointChangedException.class,
        () -> in.checkConfig(changed));
    assertEquals(Path.of("config.json"), e.file());
    assertTrue(e.detail().startsWith("field num_hidden_layers differs"), e.detail());
    assertEquals("config.json: " + e.detail() + "; loading without verification reads it anyway",
        e.getMessage());
    assertNoFlag(e);
  }

  /** A model path that holds an unfinished run is typed and names no flag to finish it with. */
  @Test
  void anUnfinishedRunIsNotAModel() throws Exception {
    Path run = Files.createDirectories(tmp.resolve("run").resolve(".partial")).getParent();
    UnfinishedRunException e = assertThrows(UnfinishedRunException.class,
        () -> io.github.quipsharp.model.ModelSource.open(run));
    assertEquals(run, e.file());
    assertTrue(e.getMessage().startsWith(run + ": holds an unfinished quantization run (.partial)"),
        e.getMessage());
    assertNoFlag(e);
  }
}
