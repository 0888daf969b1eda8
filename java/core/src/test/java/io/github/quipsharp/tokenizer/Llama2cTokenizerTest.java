package io.github.quipsharp.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The llama2.c tokenizer against the README's reference figures and the literal run.c rule. */
class Llama2cTokenizerTest {
  static final String TOK512 = "stories260K/tok512.bin";
  static final String TOK32K = "llama2-tokenizer/tokenizer.bin";

  static String sample() throws IOException {
    return Files.readString(SharedModels.require("tinystories-sample.txt"), StandardCharsets.UTF_8);
  }

  @Test
  void tok512ReferenceFigures() throws IOException {
    Llama2cTokenizer tok = Llama2cTokenizer.read(SharedModels.require(TOK512));
    assertEquals(512, tok.vocabSize());
    assertEquals(1, tok.bosId());
    assertEquals(2, tok.eosId());
    assertArrayEquals(
        new int[] {1, 403, 407, 261, 378}, tok.encode("Once upon a time", true, false));
    assertArrayEquals(
        new int[] {403, 407, 261, 378, 2}, tok.encode("Once upon a time", false, true));
    assertEquals(73_719, timedEncode(tok, sample(), "tok512").length);
  }

  @Test
  void llama2VocabularyReferenceFigure() throws IOException {
    Llama2cTokenizer tok = Llama2cTokenizer.read(SharedModels.require(TOK32K));
    assertEquals(32_000, tok.vocabSize());
    assertEquals(38_468, timedEncode(tok, sample(), "llama2 32k").length);
  }

  /** Encodes the whole sample once to warm up, then once timed; prints the time. */
  static int[] timedEncode(Tokenizer tok, String text, String name) {
    tok.encode(text, true, false);
    long start = System.nanoTime();
    int[] ids = tok.encode(text, true, false);
    double ms = (System.nanoTime() - start) / 1e6;
    System.out.printf(
        "%s: %,d chars -> %,d tokens in %.1f ms (warm)%n", name, text.length(), ids.length, ms);
    assertTrue(ms < 5000, name + " took " + ms + " ms for the whole sample");
    return ids;
  }

  @Test
  void emptyTextHasNoDummyPrefix() {
    Llama2cTokenizer tok = Llama2cTokenizer.read(SharedModels.require(TOK512));
    assertArrayEquals(new int[0], tok.encode("", false, false));
    assertArrayEquals(new int[] {1, 2}, tok.encode("", true, true));
  }

  @Test
  void unknownCharactersBecomeByteTokens() {
    Llama2cTokenizer tok = Llama2cTokenizer.read(SharedModels.require(TOK512));
    // "日" (E6 97 A5) is not in the 512-token vocabulary: its bytes + 3 after the dummy prefix.
    int[] ids = tok.encode("日", false, false);
    assertArrayEquals(new int[] {410, 0xE6 + 3, 0x97 + 3, 0xA5 + 3}, ids);
    assertEquals(" ", tok.piece(410));
    assertEquals("日", tok.decode(ids));
  }

  /** The literal rule of llama2.c run.c encode(), written independently of the implementation. */
  static final class NaiveEncoder {
    private final Llama2cTokenizer tok;
    private final Map<String, Integer> ids = new HashMap<>();
    private final String[] pieces;

    NaiveEncoder(Llama2cTokenizer tok) {
      this.tok = tok;
      pieces = new String[tok.vocabSize()];
      for (int id = 0; id < tok.vocabSize(); id++) {
        pieces[id] = new String(tok.pieceBytes(id), StandardCharsets.ISO_8859_1);
        ids.putIfAbsent(pieces[id], id);
      }
    }

    int[] encode(String text) {
      List<Integer> t = new ArrayList<>();
      byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
      if (utf8.length > 0) {
        t.add(ids.get(" "));
      }
      int i = 0;
      while (i < utf8.length) {
        int j = i + 1;
        while (j < utf8.length && j - i < 4 && (utf8[j] & 0xC0) == 0x80) {
          j++;
        }
        Integer id = ids.get(new String(utf8, i, j - i, StandardCharsets.ISO_8859_1));
        if (id != null) {
          t.add(id);
        } else {
          for (int k = i; k < j; k++) {
            t.add((utf8[k] & 0xFF) + 3);
          }
        }
        i = j;
      }
      while (true) {
        float bestScore = -1e10f;
        int bestId = -1;
        int bestIdx = -1;
        for (int k = 0; k + 1 < t.size(); k++) {
          Integer id = ids.get(pieces[t.get(k)] + pieces[t.get(k + 1)]);
          if (id != null && tok.score(id) > bestScore) {
            bestScore = tok.score(id);
            bestId = id;
            bestIdx = k;
          }
        }
        if (bestIdx < 0) {
          break;
        }
        t.set(bestIdx, bestId);
        t.remove(bestIdx + 1);
      }
      return t.stream().mapToInt(Integer::intValue).toArray();
    }
  }

  @Test
  void heapMergeEqualsLiteralRuleOnRandomStrings() throws IOException {
    for (String file : new String[] {TOK512, TOK32K}) {
      Llama2cTokenizer tok = Llama2cTokenizer.read(SharedModels.require(file));
      NaiveEncoder naive = new NaiveEncoder(tok);
      Random rnd = new Random(42);
      List<String> strings = RandomText.strings(rnd, vocabularyPieces(tok), 4000);
      for (String s : strings) {
        assertArrayEquals(naive.encode(s), tok.encode(s, false, false), file + ": \"" + s + "\"");
      }
      // One longer stretch of real text, where merges cascade through long words.
      String prefix = sample().substring(0, 2500);
      assertArrayEquals(naive.encode(prefix), tok.encode(prefix, false, false), file);
    }
  }

  /** Non-special, non-byte pieces as text. */
  static List<String> vocabularyPieces(Llama2cTokenizer tok) {
    TreeSet<String> pieces = new TreeSet<>();
    for (int id = 3 + 256; id < tok.vocabSize(); id++) {
      pieces.add(tok.piece(id));
    }
    return new ArrayList<>(pieces);
  }

  // ---- bad files -------------------------------------------------------------------------------

  /** Byte offset where the entry of token {@code index} starts in a llama2.c tokenizer file. */
  static int entryOffset(byte[] file, int index) {
    ByteBuffer in = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
    in.position(4);
    for (int i = 0; i < index; i++) {
      in.getFloat();
      int length = in.getInt();
      in.position(in.position() + length);
    }
    return in.position();
  }

  static ModelFormatException assertBad(Path file, String... fragments) {
    ModelFormatException e =
        assertThrows(ModelFormatException.class, () -> Llama2cTokenizer.read(file));
    assertEquals(file, e.file());
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "expected \"" + f + "\" in: " + e.getMessage());
    }
    return e;
  }

  @Test
  void truncatedInsideATokensBytes(@TempDir Path dir) throws IOException {
    byte[] good = Files.readAllBytes(SharedModels.require(TOK512));
    // Cut two bytes into the text of token 300 (its score and length are complete).
    Path cut = dir.resolve("cut.bin");
    Files.write(cut, Arrays.copyOf(good, entryOffset(good, 300) + 8 + 2));
    assertBad(cut, "token 300", "bytes are left");
  }

  @Test
  void truncatedInsideAScore(@TempDir Path dir) throws IOException {
    byte[] good = Files.readAllBytes(SharedModels.require(TOK512));
    Path cut = dir.resolve("cut.bin");
    Files.write(cut, Arrays.copyOf(good, entryOffset(good, 400) + 3));
    assertBad(cut, "truncated at token 400");
  }

  @Test
  void negativeLength(@TempDir Path dir) throws IOException {
    byte[] bad = Files.readAllBytes(SharedModels.require(TOK512));
    int at = entryOffset(bad, 7) + 4;
    ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(at, -5);
    Path file = dir.resolve("negative.bin");
    Files.write(file, bad);
    assertBad(file, "token 7", "negative length -5");
  }

  @Test
  void lengthBeyondTheFile(@TempDir Path dir) throws IOException {
    byte[] bad = Files.readAllBytes(SharedModels.require(TOK512));
    ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(entryOffset(bad, 9) + 4, 1 << 20);
    Path file = dir.resolve("long.bin");
    Files.write(file, bad);
    assertBad(file, "token 9", "length 1048576");
  }

  @Test
  void emptyTooSmallAndMissingFiles(@TempDir Path dir) throws IOException {
    Path empty = dir.resolve("empty.bin");
    Files.write(empty, new byte[0]);
    assertBad(empty, "too short");

    ByteBuffer few = ByteBuffer.allocate(4 + 3 * 9).order(ByteOrder.LITTLE_ENDIAN);
    few.putInt(1);
    for (int i = 0; i < 3; i++) {
      few.putFloat(0f).putInt(1).put((byte) 'a');
    }
    Path small = dir.resolve("small.bin");
    Files.write(small, few.array());
    assertBad(small, "holds 3 tokens");

    assertBad(dir.resolve("absent.bin"), "no such");
  }

  @Test
  void aModelFileIsNotATokenizer() {
    // The checkpoint's header reads as max_token_length 64 followed by garbage entries.
    assertBad(SharedModels.require("stories260K/stories260K.bin"), "token ");
  }
}
