package io.github.quipsharp.tokenizer;

/**
 * UTF-8 decoding that can stop before an incomplete sequence at the end of the input and resume
 * when more bytes arrive, so that streamed output equals decoding all bytes at once. Invalid input
 * becomes U+FFFD, one per maximal invalid subpart (the Unicode recommended practice, also that of
 * Rust's {@code from_utf8_lossy}; the JDK decoder differs only for encoded surrogates, which it
 * replaces as one unit): the result never depends on where the input was cut.
 */
final class Utf8 {
  static final char REPLACEMENT = '\uFFFD';

  private Utf8() {}

  /**
   * Decodes {@code bytes[0, length)} into {@code out} and returns how many bytes were consumed.
   * With {@code endOfInput} false, a trailing sequence that is valid so far but incomplete is left
   * unconsumed; with it true, such a tail becomes one U+FFFD.
   */
  static int decode(byte[] bytes, int length, boolean endOfInput, StringBuilder out) {
    int i = 0;
    while (i < length) {
      int b0 = bytes[i] & 0xFF;
      if (b0 < 0x80) {
        out.append((char) b0);
        i++;
        continue;
      }
      int need;
      int lo = 0x80;
      int hi = 0xBF;
      int cp;
      if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        cp = b0 & 0x1F;
      } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        cp = b0 & 0x0F;
        // Overlong forms and UTF-16 surrogates are excluded through the second byte's range.
        if (b0 == 0xE0) {
          lo = 0xA0;
        } else if (b0 == 0xED) {
          hi = 0x9F;
        }
      } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        cp = b0 & 0x07;
        if (b0 == 0xF0) {
          lo = 0x90;
        } else if (b0 == 0xF4) {
          hi = 0x8F;
        }
      } else {
        out.append(REPLACEMENT);
        i++;
        continue;
      }
      int j = i + 1;
      boolean invalid = false;
      for (int k = 0; k < need; k++, j++) {
        if (j >= length) {
          if (!endOfInput) {
            return i;
          }
          invalid = true;
          break;
        }
        int c = bytes[j] & 0xFF;
        if (c < lo || c > hi) {
          invalid = true;
          break;
        }
        cp = (cp << 6) | (c & 0x3F);
        lo = 0x80;
        hi = 0xBF;
      }
      if (invalid) {
        out.append(REPLACEMENT); // the valid prefix [i, j) is one maximal subpart
      } else {
        out.appendCodePoint(cp);
      }
      i = j;
    }
    return i;
  }
}
