package io.github.quipsharp.cli;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Text files and the tokenizer a command uses (the model's own unless --tokenizer names one). */
final class TextInput {
  private TextInput() {}

  /** The whole file as UTF-8 text; a clear error for a missing, unreadable, empty or non-UTF-8 file. */
  static String read(Path file, String what) {
    try {
      byte[] bytes = Files.readAllBytes(file);
      String text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
      if (text.isEmpty()) {
        throw new IllegalArgumentException(what + " " + file + " is empty");
      }
      return text;
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(what + " " + file + " does not exist");
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(what + " " + file + " is not UTF-8 text");
    } catch (IOException e) {
      throw new IllegalArgumentException(what + " " + file + " cannot be read: " + e.getMessage());
    }
  }

  static Tokenizer tokenizer(Path model, Path override) {
    try {
      return override != null ? Tokenizer.load(override) : Tokenizer.forModel(model);
    } catch (ModelFormatException e) {
      throw new IllegalArgumentException(e.getMessage() + (override == null
          ? " (name one with --tokenizer PATH)" : ""), e);
    }
  }

  /** The text's tokens, BOS first, encoded as one string. */
  static int[] tokens(Tokenizer tok, Path file, String what) {
    return tok.encode(read(file, what), true, false);
  }
}
