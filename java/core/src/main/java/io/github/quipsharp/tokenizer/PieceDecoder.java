package io.github.quipsharp.tokenizer;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.BiFunction;

/**
 * Turns token ids back into text, incrementally, for both tokenizer formats: every token
 * contributes nothing (special tokens), one raw byte (byte tokens {@code <0xXX>}) or the UTF-8
 * bytes of its text; the bytes are joined and decoded as UTF-8 (invalid sequences become U+FFFD,
 * one per maximal invalid subpart), and up to {@code stripCount} leading {@code stripChar}
 * characters are removed from the start of the whole text.
 *
 * <p>Working on bytes keeps a character split over several tokens intact (byte-level BPE tokens
 * and byte tokens both split characters), and makes streaming exact: {@link Stream} holds back the
 * bytes of an unfinished character until the tokens that complete it arrive.
 *
 * <p>For a Hugging Face {@code tokenizer.json} ({@link HfDecoderSpec}) three rules of the library's
 * decoders are followed as well, so that the stream equals the library's own decoding:
 *
 * <ul>
 *   <li>A run of consecutive byte tokens is decoded as a whole ({@code ByteFallback}): valid UTF-8
 *       gives its text, anything else one U+FFFD per byte token. The run is therefore held until a
 *       token that is not a byte token (or the end) closes it. Skipped special tokens do not close
 *       it, since the library removes them before decoding.
 *   <li>The first token that is not skipped may decode differently ({@code Metaspace} drops its
 *       {@code ▁}s instead of turning them into spaces).
 *   <li>Without any decoder, the library joins the token strings with a space.
 * </ul>
 */
final class PieceDecoder {
  private static final byte[] REPLACEMENT = "\uFFFD".getBytes(StandardCharsets.UTF_8);

  private final byte[][] text;
  private final byte[][] firstText;
  private final int[] rawByte;
  private final boolean wholeByteRuns;
  private final BiFunction<String, Boolean, String> runText;
  private final byte[] separator;
  private final char stripChar;
  private final int stripCount;

  /**
   * The llama2.c rule: byte tokens are raw bytes, nothing else is special.
   *
   * @param text per id, the UTF-8 bytes it contributes, or null for a token that is skipped
   * @param rawByte per id, the byte value of a byte token, or -1
   */
  PieceDecoder(byte[][] text, int[] rawByte, char stripChar, int stripCount) {
    this(text, null, rawByte, false, null, new byte[0], stripChar, stripCount);
  }

  /**
   * @param firstText per id, the bytes it contributes as the first token that is not skipped, or
   *     null when that is {@code text}
   * @param wholeByteRuns decode runs of byte tokens as a whole, as {@code ByteFallback} does
   * @param runText the text of a valid run of byte tokens (its UTF-8 decoding) after the decoding
   *     steps that follow {@code ByteFallback}; the flag says whether the run is the first element
   * @param separator bytes between two tokens that are not skipped
   */
  PieceDecoder(
      byte[][] text,
      byte[][] firstText,
      int[] rawByte,
      boolean wholeByteRuns,
      BiFunction<String, Boolean, String> runText,
      byte[] separator,
      char stripChar,
      int stripCount) {
    this.text = text;
    this.firstText = firstText;
    this.rawByte = rawByte;
    this.wholeByteRuns = wholeByteRuns;
    this.runText = runText == null ? (s, first) -> s : runText;
    this.separator = separator;
    this.stripChar = stripChar;
    this.stripCount = stripCount;
  }

  /** The text of {@code bytes[0, length)} when it is valid UTF-8, else null. */
  private static String strictUtf8(byte[] bytes, int length) {
    try {
      return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes, 0, length)).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  String decode(int[] ids) {
    Stream stream = new Stream();
    StringBuilder out = new StringBuilder(ids.length * 4 + 16);
    for (int id : ids) {
      stream.push(id, out);
    }
    stream.finish(out);
    return out.toString();
  }

  Tokenizer.StreamDecoder newStream() {
    return new Stream();
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
   * Keeps the bytes of an incomplete UTF-8 sequence (and an open run of byte tokens) until the
   * tokens that complete it arrive, and strips the leading characters as long as nothing else has
   * been output.
   */
  private final class Stream implements Tokenizer.StreamDecoder {
    private final ByteSink pending = new ByteSink();
    private final ByteSink run = new ByteSink();
    private boolean runIsFirst;
    private boolean started;
    private int stripLeft = stripCount;

    @Override
    public String push(int id) {
      StringBuilder out = new StringBuilder();
      push(id, out);
      return out.toString();
    }

    @Override
    public String flush() {
      StringBuilder out = new StringBuilder();
      finish(out);
      return out.toString();
    }

    void push(int id, StringBuilder out) {
      if (id < 0 || id >= text.length) {
        throw new IllegalArgumentException(
            "token id " + id + " is outside the vocabulary [0, " + text.length + ")");
      }
      boolean isByte = rawByte[id] >= 0;
      if (!isByte && text[id] == null) {
        return; // skipped
      }
      boolean first = !started;
      if (started) {
        pending.add(separator);
      }
      started = true;
      if (isByte && wholeByteRuns) {
        if (run.length == 0) {
          runIsFirst = first;
        }
        run.add((byte) rawByte[id]);
        return;
      }
      closeRun();
      if (isByte) {
        pending.add((byte) rawByte[id]);
      } else {
        pending.add(first && firstText != null ? firstText[id] : text[id]);
      }
      drain(false, out);
    }

    void finish(StringBuilder out) {
      closeRun();
      drain(true, out);
    }

    /** The library's ByteFallback: a valid run is its text, an invalid one U+FFFD per byte. */
    private void closeRun() {
      if (run.length == 0) {
        return;
      }
      String decoded = strictUtf8(run.data, run.length);
      if (decoded != null) {
        pending.add(runText.apply(decoded, runIsFirst).getBytes(StandardCharsets.UTF_8));
      } else {
        for (int i = 0; i < run.length; i++) {
          pending.add(REPLACEMENT);
        }
      }
      run.length = 0;
    }

    private void drain(boolean endOfInput, StringBuilder out) {
      if (pending.length == 0) {
        return;
      }
      int from = out.length();
      pending.consume(Utf8.decode(pending.data, pending.length, endOfInput, out));
      int cut = from;
      while (stripLeft > 0 && cut < out.length()) {
        if (out.charAt(cut) == stripChar) {
          cut++;
          stripLeft--;
        } else {
          stripLeft = 0;
        }
      }
      out.delete(from, cut);
    }
  }
}
