package io.github.quipsharp.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Utf8Test {
  private static String whole(byte[] b) {
    StringBuilder out = new StringBuilder();
    Utf8.decode(b, b.length, true, out);
    return out.toString();
  }

  /** Feeds the bytes in random chunks, keeping the unconsumed tail like the stream decoder. */
  private static String chunked(byte[] b, Random rnd) {
    StringBuilder out = new StringBuilder();
    byte[] pending = new byte[b.length];
    int n = 0;
    int i = 0;
    while (i < b.length) {
      int len = Math.min(b.length - i, 1 + rnd.nextInt(4));
      System.arraycopy(b, i, pending, n, len);
      n += len;
      i += len;
      int used = Utf8.decode(pending, n, false, out);
      System.arraycopy(pending, used, pending, 0, n - used);
      n -= used;
    }
    Utf8.decode(pending, n, true, out);
    return out.toString();
  }

  @Test
  void agreesWithTheJdkAndDoesNotDependOnChunking() {
    Random rnd = new Random(11);
    // Bytes biased towards lead and continuation bytes, so that many sequences are broken.
    int[] interesting = {
      0x41, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x9F,
      0x90, 0x8F
    };
    for (int trial = 0; trial < 20000; trial++) {
      byte[] b = new byte[rnd.nextInt(12)];
      for (int i = 0; i < b.length; i++) {
        int v = rnd.nextBoolean() ? interesting[rnd.nextInt(interesting.length)] : rnd.nextInt(256);
        b[i] = (byte) v;
      }
      String expected = whole(b);
      if (!hasEncodedSurrogate(b)) {
        assertEquals(new String(b, StandardCharsets.UTF_8), expected, () -> Arrays.toString(b));
      }
      assertEquals(expected, chunked(b, rnd), () -> "chunked " + Arrays.toString(b));
    }
  }

  /**
   * The JDK turns an encoded UTF-16 surrogate (ED A0..BF xx) into a single U+FFFD; the Unicode
   * practice, which Rust's from_utf8_lossy and this decoder follow, gives one per byte because ED
   * A0 is already no valid prefix.
   */
  private static boolean hasEncodedSurrogate(byte[] b) {
    for (int i = 0; i + 1 < b.length; i++) {
      if ((b[i] & 0xFF) == 0xED && (b[i + 1] & 0xFF) >= 0xA0 && (b[i + 1] & 0xFF) <= 0xBF) {
        return true;
      }
    }
    return false;
  }

  @Test
  void encodedSurrogateIsOneReplacementPerByte() {
    byte[] b = {(byte) 0xED, (byte) 0xA6, (byte) 0x9D, 0x41};
    assertEquals("\uFFFD\uFFFD\uFFFDA", whole(b));
  }

  @Test
  void validTextRoundTrips() {
    String s = "plain, é, 日本語, 😀👍🏽, \u0000, \uFFFD";
    assertEquals(s, whole(s.getBytes(StandardCharsets.UTF_8)));
  }
}
