package io.github.quipsharp.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokenizer.forModel / load: which file is found next to a model. */
class TokenizerLocatorTest {
  @Test
  void findsTok512NextToStories260K() {
    Path dir = SharedModels.require("stories260K");
    Path tok512 = dir.resolve("tok512.bin");
    assertEquals(tok512, TokenizerLocator.locate(dir));
    assertEquals(tok512, TokenizerLocator.locate(dir.resolve("stories260K.bin")));
    Tokenizer tok = Tokenizer.forModel(dir.resolve("stories260K.bin"));
    assertInstanceOf(Llama2cTokenizer.class, tok);
    assertEquals(512, tok.vocabSize());
  }

  @Test
  void findsTok512InTheHfCopy() {
    Path dir = SharedModels.require("stories260K-hf");
    assertEquals(dir.resolve("tok512.bin"), TokenizerLocator.locate(dir));
    assertEquals(512, Tokenizer.forModel(dir).vocabSize());
  }

  @Test
  void prefersTokenizerJsonThenTokenizerBin() {
    Path mistral = SharedModels.require("mistral-tokenizer");
    assertInstanceOf(HfTokenizer.class, Tokenizer.forModel(mistral));
    Path llama2 = SharedModels.require("llama2-tokenizer");
    assertEquals(llama2.resolve("tokenizer.bin"), TokenizerLocator.locate(llama2));
    assertEquals(32_000, Tokenizer.forModel(llama2).vocabSize());
  }

  @Test
  void orderOfPreference(@TempDir Path dir) throws IOException {
    Files.write(dir.resolve("tok1.bin"), new byte[0]);
    Files.write(dir.resolve("tokenizer.bin"), new byte[0]);
    assertEquals(dir.resolve("tokenizer.bin"), TokenizerLocator.locate(dir));
    Files.write(dir.resolve("tokenizer.json"), new byte[0]);
    assertEquals(dir.resolve("tokenizer.json"), TokenizerLocator.locate(dir));
  }

  @Test
  void skipsTheModelFileItself(@TempDir Path dir) throws IOException {
    Path model = dir.resolve("tokmodel.bin");
    Files.write(model, new byte[0]);
    Files.write(dir.resolve("tok512.bin"), new byte[0]);
    assertEquals(dir.resolve("tok512.bin"), TokenizerLocator.locate(model));
  }

  @Test
  void missingTokenizerNamesTheFolder(@TempDir Path dir) throws IOException {
    Path model = dir.resolve("model.bin");
    Files.write(model, new byte[0]);
    for (Path p : new Path[] {dir, model}) {
      ModelFormatException e =
          assertThrows(ModelFormatException.class, () -> Tokenizer.forModel(p));
      assertEquals(dir.toAbsolutePath(), e.file().toAbsolutePath());
      assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
      assertTrue(e.getMessage().contains("tokenizer.json, tokenizer.bin"), e.getMessage());
    }
    ModelFormatException absent =
        assertThrows(ModelFormatException.class, () -> Tokenizer.forModel(dir.resolve("nope")));
    assertTrue(absent.getMessage().contains("nope"), absent.getMessage());
  }

  @Test
  void severalCandidatesAreAnError(@TempDir Path dir) throws IOException {
    Files.write(dir.resolve("tok512.bin"), new byte[0]);
    Files.write(dir.resolve("tok4096.bin"), new byte[0]);
    ModelFormatException e =
        assertThrows(ModelFormatException.class, () -> Tokenizer.forModel(dir));
    assertTrue(e.getMessage().contains("tok4096.bin, tok512.bin"), e.getMessage());
  }

  @Test
  void loadPicksTheFormatByName(@TempDir Path dir) throws IOException {
    Path json = dir.resolve("weird.JSON");
    Files.writeString(json, "{");
    ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizer.load(json));
    assertTrue(e.getMessage().contains("malformed JSON"), e.getMessage());
    Path bin = dir.resolve("weird.model");
    Files.writeString(bin, "{");
    e = assertThrows(ModelFormatException.class, () -> Tokenizer.load(bin));
    assertTrue(e.getMessage().contains("too short"), e.getMessage());
  }

  @Test
  void companionFilesOfATokenizerJson(@TempDir Path dir) throws IOException {
    Path json = dir.resolve("tokenizer.json");
    Files.writeString(json, "{}");
    assertEquals(java.util.List.of(), Tokenizer.companionFiles(json));
    for (String name :
        new String[] {"generation_config.json", "tokenizer_config.json", "unrelated.json"}) {
      Files.writeString(dir.resolve(name), "{}");
    }
    assertEquals(
        java.util.List.of(
            dir.resolve("tokenizer_config.json"), dir.resolve("generation_config.json")),
        Tokenizer.companionFiles(json));
    Files.write(dir.resolve("tok512.bin"), new byte[0]);
    assertEquals(java.util.List.of(), Tokenizer.companionFiles(dir.resolve("tok512.bin")));
  }
}
