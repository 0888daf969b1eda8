package io.github.quipsharp.tokenizer;

import java.util.Arrays;

/**
 * Turns token ids back into text, for both tokenizer formats: every token contributes either
 * nothing (special tokens), one raw byte (byte-fallback tokens {@code <0xXX>}) or the UTF-8 bytes
 * of its text; the bytes of all tokens are joined and decoded as UTF-8, and up to {@code
 * stripCount} leading {@code stripChar} characters (the dummy-prefix space the encoder added) are
 * removed from the start of the text.
 *
 * <p>Working on bytes rather than per token keeps a character split over several byte tokens intact
 * and makes streaming exact: {@link Stream} feeds the same bytes through the same decoder.
 */
final class PieceDecoder {
  private final byte[][] text;
  private final int[] rawByte;
  private final char stripChar;
  private final int stripCount;

  /**
   * @param text per id, the UTF-8 bytes it contributes, or null for a token that is skipped
   * @param rawByte per id, the byte value of a byte token, or -1
   */
  PieceDecoder(byte[][] text, int[] rawByte, char stripChar, int stripCount) {
    this.text = text;
    this.rawByte = rawByte;
    this.stripChar = stripChar;
    this.stripCount = stripCount;
  }

  String decode(int[] ids) {
    ByteSink bytes = new ByteSink();
    for (int id : ids) {
      append(id, bytes);
    }
    StringBuilder out = new StringBuilder(bytes.length + 16);
    Utf8.decode(bytes.data, bytes.length, true, out);
    int cut = 0;
    while (cut < stripCount && cut < out.length() && out.charAt(cut) == stripChar) {
      cut++;
    }
    return out.substring(cut);
  }

  Tokenizer.StreamDecoder newStream() {
    return new Stream();
  }

  private void append(int id, ByteSink sink) {
    if (id < 0 || id >= text.length) {
      throw new IllegalArgumentException(
          "token id " + id + " is outside the vocabulary [0, " + text.length + ")");
    }
    if (rawByte[id] >= 0) {
      sink.add((byte) rawByte[id]);
    } else if (text[id] != null) {
      sink.add(text[id]);
    }
  }

  /** Growable byte buffer; avoids ByteArrayOutputStream's synchronization and copying on read. */
  private static final class ByteSink {
    byte[] data = new byte[64];
    int length;

    void add(byte b) {
      ensure(1);
      data[length++] = b;
    }

    void add(byte[] b) {
      ensure(b.length);
      System.arraycopy(b, 0, data, length, b.length);
      length += b.length;
    }

    private void ensure(int extra) {
      if (length + extra > data.length) {
        data = Arrays.copyOf(data, Math.max(data.length * 2, length + extra));
      }
    }

    /** Drops the first {@code count} bytes. */
    void consume(int count) {
      System.arraycopy(data, count, data, 0, length - count);
      length -= count;
    }
  }

  /**
   * Keeps the bytes of an incomplete UTF-8 sequence until the tokens that complete it arrive, and
   * strips the leading characters as long as nothing else has been output.
   */
  private final class Stream implements Tokenizer.StreamDecoder {
    private final ByteSink pending = new ByteSink();
    private int stripLeft = stripCount;

    @Override
    public String push(int id) {
      append(id, pending);
      return drain(false);
    }

    @Override
    public String flush() {
      return drain(true);
    }

    private String drain(boolean endOfInput) {
      if (pending.length == 0) {
        return "";
      }
      StringBuilder out = new StringBuilder();
      pending.consume(Utf8.decode(pending.data, pending.length, endOfInput, out));
      int cut = 0;
      while (stripLeft > 0 && cut < out.length()) {
        if (out.charAt(cut) == stripChar) {
          cut++;
          stripLeft--;
        } else {
          stripLeft = 0;
        }
      }
      return out.substring(cut);
    }
  }
}
