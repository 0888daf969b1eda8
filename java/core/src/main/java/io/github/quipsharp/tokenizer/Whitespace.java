package io.github.quipsharp.tokenizer;

/**
 * Unicode {@code White_Space}, the property Hugging Face's Rust code tests with {@code
 * char::is_whitespace}. Java's {@link Character#isWhitespace} differs: it leaves out no-break
 * spaces and counts U+001C..U+001F.
 */
final class Whitespace {
  private Whitespace() {}

  static boolean is(int cp) {
    return (cp >= 0x09 && cp <= 0x0D)
        || cp == 0x20
        || cp == 0x85
        || cp == 0xA0
        || cp == 0x1680
        || (cp >= 0x2000 && cp <= 0x200A)
        || cp == 0x2028
        || cp == 0x2029
        || cp == 0x202F
        || cp == 0x205F
        || cp == 0x3000;
  }

  /** Index after the last non-whitespace character before {@code end}, or 0. */
  static int trimBackFrom(String s, int end) {
    int i = end;
    while (i > 0) {
      int cp = s.codePointBefore(i);
      if (!is(cp)) {
        break;
      }
      i -= Character.charCount(cp);
    }
    return i;
  }

  /** Index of the first non-whitespace character at or after {@code start}, or the length. */
  static int trimForwardFrom(String s, int start) {
    int i = start;
    while (i < s.length()) {
      int cp = s.codePointAt(i);
      if (!is(cp)) {
        break;
      }
      i += Character.charCount(cp);
    }
    return i;
  }

  static String strip(String s, boolean left, boolean right) {
    int start = left ? trimForwardFrom(s, 0) : 0;
    int end = right ? trimBackFrom(s, s.length()) : s.length();
    return start >= end ? "" : s.substring(start, end);
  }
}
