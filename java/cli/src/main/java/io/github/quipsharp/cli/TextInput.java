package io.github.quipsharp.cli;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.internal.RegularFiles;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** The text files a command reads (calibration text, evaluation text), checked up front. */
final class TextInput {
  private TextInput() {}

  /** The whole file as UTF-8 text; a clear error for a missing, unreadable, empty or non-UTF-8 file. */
  static String read(Path file, String what) {
    RegularFiles.require(file, what); // a FIFO would block the command
    try {
      requireHeapFor(file, what);
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

  /**
   * Refuses up front a text that the heap cannot hold with its decoded string and its tokens
   * (about {@value #HEAP_BYTES_PER_TEXT_BYTE} bytes of heap per byte of text), rather than failing
   * with an out-of-memory error part-way.
   */
  static void requireHeapFor(Path file, String what) throws IOException {
    long size = Files.size(file);
    long heap = Runtime.getRuntime().maxMemory();
    if (size > Integer.MAX_VALUE - 8 || size * HEAP_BYTES_PER_TEXT_BYTE > heap) {
      throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s %s is %,d bytes "
          + "(%.1f MiB): too large for this JVM's heap of %.1f MiB (it needs about %d bytes per "
          + "byte of text); use a shorter text or give Java more heap (java -Xmx<size>)", what,
          file, size, size / 1048576.0, heap / 1048576.0, HEAP_BYTES_PER_TEXT_BYTE));
    }
  }

  /**
   * Heap per byte of text while it is read and encoded: the bytes, the string (up to 2 bytes per
   * character), the tokenizer's pieces and the token ids (4 bytes per token).
   */
  static final int HEAP_BYTES_PER_TEXT_BYTE = 8;

  /** The text's tokens, BOS first, encoded as one string. */
  static int[] tokens(Tokenizer tok, Path file, String what) {
    return tok.encode(read(file, what), true, false);
  }
}
