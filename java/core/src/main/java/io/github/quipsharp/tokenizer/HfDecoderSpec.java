package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The {@code decoder} of a {@code tokenizer.json}, turned into a {@link PieceDecoder} for streamed
 * decoding that gives exactly the Hugging Face library's decoding of the same ids (the library
 * itself decodes whole sequences; it has no streaming call that never splits a character).
 *
 * <p>The library runs the decoder steps over the list of token strings (special tokens removed).
 * Steps that map each string on its own ({@code Replace}, {@code Strip}, {@code Metaspace}) can be
 * applied to each vocabulary entry in advance; {@code ByteFallback} groups runs of byte tokens;
 * {@code Fuse} and {@code ByteLevel} join everything into one string (ByteLevel maps each
 * character back to the byte it stands for, GPT-2's byte-to-character table). So a chain of the
 * form
 *
 * <pre>  per-token steps*  [ByteFallback per-token steps*]  [Fuse | ByteLevel  [Strip]]</pre>
 *
 * is read; after a join only a {@code Strip} of leading characters can still be streamed. Other
 * orders, a trailing {@code Strip} after a join, and the decoders of non-LLM tokenizers ({@code
 * WordPiece}, {@code BPEDecoder}, {@code CTC}) are refused by name.
 */
final class HfDecoderSpec {
  /** One per-token step: {@code first} is true for the first element of the list it runs on. */
  private interface Step {
    String apply(String token, boolean first);
  }

  private final List<Step> beforeRuns = new ArrayList<>();
  private final List<Step> afterRuns = new ArrayList<>();
  /** Whether a step treats the first token differently (Metaspace). */
  private boolean firstDiffers;

  private boolean byteFallback;
  private boolean byteLevel;
  private boolean joined;
  private boolean hasStrip;
  private char stripChar = ' ';
  private int stripCount;

  private HfDecoderSpec() {}

  /**
   * @param pieces token strings by id (null for undefined ids)
   * @param special ids the library skips when decoding
   * @throws ModelFormatException naming the file and the step for a decoder that cannot be streamed
   */
  static PieceDecoder decoder(JsonNode node, String[] pieces, boolean[] special, Path file) {
    HfDecoderSpec spec = new HfDecoderSpec();
    if (HfJson.isNull(node)) {
      // No decoder: the library joins the token strings with spaces.
      return spec.build(pieces, special, " ".getBytes(StandardCharsets.UTF_8));
    }
    spec.add(node, file, "decoder");
    return spec.build(pieces, special, new byte[0]);
  }

  private PieceDecoder build(String[] pieces, boolean[] special, byte[] separator) {
    int n = pieces.length;
    byte[][] text = new byte[n][];
    byte[][] firstText = firstDiffers ? new byte[n][] : null;
    int[] rawByte = new int[n];
    for (int id = 0; id < n; id++) {
      rawByte[id] = -1;
      if (pieces[id] == null || special[id]) {
        continue;
      }
      String later = run(beforeRuns, pieces[id], false);
      if (byteFallback) {
        rawByte[id] = byteTokenValue(later);
        if (rawByte[id] >= 0) {
          continue;
        }
      }
      text[id] = bytes(run(afterRuns, later, false));
      if (firstDiffers) {
        firstText[id] = bytes(run(afterRuns, run(beforeRuns, pieces[id], true), true));
      }
    }
    return new PieceDecoder(
        text,
        firstText,
        rawByte,
        byteFallback,
        (s, first) -> run(afterRuns, s, first),
        separator,
        stripChar,
        stripCount);
  }

  private static String run(List<Step> steps, String s, boolean first) {
    for (Step step : steps) {
      s = step.apply(s, first);
    }
    return s;
  }

  private byte[] bytes(String s) {
    return byteLevel ? ByteLevelAlphabet.bytes(s) : s.getBytes(StandardCharsets.UTF_8);
  }

  /** The library's byte-token test: exactly {@code <0x} two hex digits {@code >}. */
  static int byteTokenValue(String s) {
    if (s.length() != 6 || !s.startsWith("<0x") || s.charAt(5) != '>') {
      return -1;
    }
    int hi = hexDigit(s.charAt(3));
    int lo = hexDigit(s.charAt(4));
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }

  private static int hexDigit(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    char lower = Character.toLowerCase(c);
    return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
  }

  private void add(JsonNode node, Path file, String where) {
    String type = HfJson.type(node, file, where);
    switch (type) {
      case "Sequence" -> {
        JsonNode list = node.get("decoders");
        if (list == null || !list.isArray()) {
          throw new ModelFormatException(file, where + " Sequence needs a \"decoders\" array");
        }
        for (int i = 0; i < list.size(); i++) {
          add(list.get(i), file, where + "[" + i + "]");
        }
      }
      case "Replace" -> {
        requireUnjoined(type, file, where);
        var replace = HfReplace.parse(node, file, where);
        perToken((s, first) -> replace.apply(s));
      }
      case "Strip" -> addStrip(node, file, where);
      case "Metaspace" -> {
        requireUnjoined(type, file, where);
        char replacement = HfJson.character(node, "replacement", file, where);
        boolean dropFirst = !prependScheme(node, file, where).equals("never");
        firstDiffers |= dropFirst;
        // The library drops every replacement character of the first token when a prefix space
        // was prepended, and turns the others into spaces.
        perToken(
            (s, first) ->
                first && dropFirst
                    ? s.replace(String.valueOf(replacement), "")
                    : s.replace(replacement, ' '));
      }
      case "ByteFallback" -> {
        requireUnjoined(type, file, where);
        if (byteFallback) {
          throw new ModelFormatException(file, where + " is a second ByteFallback");
        }
        byteFallback = true;
      }
      case "Fuse" -> joined = true;
      case "ByteLevel" -> {
        requireUnjoined(type, file, where);
        if (byteFallback) {
          throw new ModelFormatException(
              file, where + " ByteLevel after ByteFallback is not supported");
        }
        byteLevel = true;
        joined = true;
      }
      default ->
          throw new ModelFormatException(
              file,
              "unsupported "
                  + where
                  + " type \""
                  + type
                  + "\" (streamed decoding supports Sequence, Replace, Strip, Metaspace,"
                  + " ByteFallback, Fuse, ByteLevel)");
    }
  }

  private void perToken(Step step) {
    (byteFallback ? afterRuns : beforeRuns).add(step);
  }

  private void addStrip(JsonNode node, Path file, String where) {
    char content = HfJson.character(node, "content", file, where);
    int start = HfJson.integer(node, "start", 0, file, where);
    int stop = HfJson.integer(node, "stop", 0, file, where);
    if (start < 0 || stop < 0) {
      throw new ModelFormatException(file, where + " Strip has a negative start or stop");
    }
    if (!joined) {
      perToken((s, first) -> stripEach(s, content, start, stop));
      return;
    }
    // After a join the whole text is one token; a stream cannot know where it ends.
    if (stop > 0) {
      throw new ModelFormatException(
          file, where + " Strip after Fuse/ByteLevel with stop = " + stop + " is not supported");
    }
    if (hasStrip) {
      throw new ModelFormatException(
          file, where + " is a second Strip after Fuse/ByteLevel, which is not supported");
    }
    hasStrip = true;
    stripChar = content;
    stripCount = start;
  }

  /** The library's Strip on one token: up to start / stop copies of content at either end. */
  private static String stripEach(String s, char content, int start, int stop) {
    int from = 0;
    while (from < start && from < s.length() && s.charAt(from) == content) {
      from++;
    }
    int to = s.length();
    while (s.length() - to < stop && to > from && s.charAt(to - 1) == content) {
      to--;
    }
    return s.substring(from, to);
  }

  private void requireUnjoined(String type, Path file, String where) {
    if (joined) {
      throw new ModelFormatException(
          file,
          where + " " + type + " after Fuse/ByteLevel is not supported (it would see one token)");
    }
  }

  /**
   * {@code "always"}, {@code "first"} or {@code "never"}; files written before {@code
   * prepend_scheme} existed say {@code add_prefix_space} instead (true means always).
   */
  private static String prependScheme(JsonNode node, Path file, String where) {
    String scheme = HfJson.optionalText(node, "prepend_scheme", file, where);
    if (scheme == null) {
      return HfJson.bool(node, "add_prefix_space", true, file, where) ? "always" : "never";
    }
    scheme = scheme.toLowerCase(Locale.ROOT);
    if (!scheme.equals("always") && !scheme.equals("first") && !scheme.equals("never")) {
      throw new ModelFormatException(
          file, where + " has an unsupported prepend_scheme \"" + scheme + "\"");
    }
    return scheme;
  }
}
