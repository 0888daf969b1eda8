package io.github.quipsharp.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** decode(encode(text)) == text and streamed decoding == decode, for all three tokenizers. */
class TokenizerRoundTripTest {
  static Stream<String> tokenizers() {
    return Stream.of(
        Llama2cTokenizerTest.TOK512, Llama2cTokenizerTest.TOK32K, HfTokenizerTest.MISTRAL);
  }

  static final String[] TRICKY = {
    "",
    " ",
    "  ",
    "a",
    " leading space",
    "   three leading spaces",
    "doubled  spaces   and trailing ",
    "\n",
    "\n\nnewlines\n\nand\ttabs\t\n",
    "emoji 😀👍🏽🇩🇪 and ZWJ 👩‍👩‍👧",
    "mojibake as in the sample: sunâ€™s â€œLetâ€™s goâ€ Ã© Ã¼",
    "accents é ü ñ, CJK 日本語, Greek αβγ, Cyrillic привет",
    "\uFFFD replacement char, \u0000 NUL, \u007F DEL, \u00A0 nbsp",
    "<0x41> looks like a byte token",
    "x",
  };

  /** The stream decoder's pieces joined, checked against decode. */
  static String streamed(Tokenizer tok, int[] ids) {
    Tokenizer.StreamDecoder stream = tok.newStreamDecoder();
    StringBuilder out = new StringBuilder();
    for (int id : ids) {
      out.append(stream.push(id));
    }
    out.append(stream.flush());
    return out.toString();
  }

  @ParameterizedTest
  @MethodSource("tokenizers")
  void wholeSampleRoundTrips(String file) throws IOException {
    Tokenizer tok = Tokenizer.load(SharedModels.require(file));
    String text = Llama2cTokenizerTest.sample();
    int[] ids = tok.encode(text, true, false);
    // assertTrue, not assertEquals: a failure would print 145 KB twice.
    assertTrue(text.equals(tok.decode(ids)), file + ": decode(encode(sample)) differs");
    assertTrue(text.equals(streamed(tok, ids)), file + ": streamed decoding differs");
    int[] withEos = tok.encode(text, true, true);
    assertTrue(text.equals(tok.decode(withEos)), file + ": EOS not skipped");
  }

  @ParameterizedTest
  @MethodSource("tokenizers")
  void trickyStringsRoundTrip(String file) {
    Tokenizer tok = Tokenizer.load(SharedModels.require(file));
    for (String s : TRICKY) {
      for (boolean bos : new boolean[] {true, false}) {
        int[] ids = tok.encode(s, bos, false);
        assertEquals(s, tok.decode(ids), file + " bos=" + bos);
        assertEquals(s, streamed(tok, ids), file + " streamed, bos=" + bos);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("tokenizers")
  void streamEqualsDecodeOnRandomIds(String file) {
    // Random ids include special tokens and byte tokens that form broken UTF-8.
    Tokenizer tok = Tokenizer.load(SharedModels.require(file));
    Random rnd = new Random(3);
    for (int trial = 0; trial < 3000; trial++) {
      int[] ids = new int[rnd.nextInt(12)];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = rnd.nextInt(3) == 0 ? rnd.nextInt(3 + 256) : rnd.nextInt(tok.vocabSize());
      }
      assertEquals(
          tok.decode(ids), streamed(tok, ids), file + " ids " + java.util.Arrays.toString(ids));
    }
  }

  @ParameterizedTest
  @MethodSource("tokenizers")
  void streamHoldsBackIncompleteCharacters(String file) {
    Tokenizer tok = Tokenizer.load(SharedModels.require(file));
    // "😀" is F0 9F 98 80: as byte tokens 3 + byte, nothing comes out before the last one.
    Tokenizer.StreamDecoder stream = tok.newStreamDecoder();
    assertEquals("", stream.push(tok.bosId()));
    assertEquals("", stream.push(3 + 0xF0));
    assertEquals("", stream.push(3 + 0x9F));
    assertEquals("", stream.push(3 + 0x98));
    if (tok instanceof HfTokenizer) {
      // The library decodes a run of byte tokens as a whole (one U+FFFD per token when it is not
      // valid UTF-8), so a finished character waits for the token that ends the run.
      assertEquals("", stream.push(3 + 0x80));
      int x = tok.encode("x", false, false)[0];
      assertEquals("😀 x", stream.push(x));
      assertEquals("", stream.push(3 + 0xE6)); // an unfinished character at the end
      assertEquals("\uFFFD", stream.flush());
      int[] brokenRun = {3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80, 3 + 0xE6};
      assertEquals("\uFFFD".repeat(5), tok.decode(brokenRun));
      assertEquals(tok.decode(brokenRun), streamed(tok, brokenRun));
    } else {
      assertEquals("😀", stream.push(3 + 0x80));
      assertEquals("", stream.push(3 + 0xE6)); // an unfinished character at the end
      assertEquals("\uFFFD", stream.flush());
    }
  }

  @ParameterizedTest
  @MethodSource("tokenizers")
  void specialsAndBadIds(String file) {
    Tokenizer tok = Tokenizer.load(SharedModels.require(file));
    assertEquals("", tok.decode(new int[] {0, 1, 2}));
    assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {tok.vocabSize()}));
    assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {-1}));
    assertThrows(IllegalArgumentException.class, () -> tok.piece(tok.vocabSize()));
    assertEquals("<0x41>", tok.piece(3 + 0x41));
    assertEquals("A", tok.decode(new int[] {3 + 0x41}));
  }
}
