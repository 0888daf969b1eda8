package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/**
 * The {@code decoder} of a {@code tokenizer.json}, reduced to what {@link PieceDecoder} does: a
 * transformation of each token's text, whether byte tokens are bytes, and how many leading
 * characters to strip from the whole text. Supported kinds: {@code null}, {@code Sequence}, {@code
 * Replace}, {@code ByteFallback}, {@code Fuse}, {@code Strip} and {@code Metaspace}.
 *
 * <p>Two deliberate differences from Hugging Face, both so that decoding inverts encoding: invalid
 * UTF-8 is replaced per maximal invalid subpart of the joined bytes (Hugging Face gives one U+FFFD
 * per byte token of an invalid run), and the Metaspace decoder removes only the one leading space
 * (Hugging Face drops every {@code ▁} of the first token, so " x" would decode to "x").
 */
final class HfDecoderSpec {
  UnaryOperator<String> perToken = UnaryOperator.identity();
  boolean byteFallback;
  char stripChar = ' ';
  int stripCount;

  /** After a Fuse step the remaining steps see the whole text as one token. */
  private boolean fused;

  private HfDecoderSpec() {}

  static HfDecoderSpec parse(JsonNode node, Path file) {
    HfDecoderSpec spec = new HfDecoderSpec();
    if (!HfJson.isNull(node)) {
      spec.add(node, file, "decoder");
    }
    return spec;
  }

  private void add(JsonNode node, Path file, String where) {
    String type = HfJson.type(node, file, where);
    switch (type) {
      case "Sequence":
        {
          JsonNode list = node.get("decoders");
          if (list == null || !list.isArray()) {
            throw new ModelFormatException(file, where + " Sequence needs a \"decoders\" array");
          }
          for (int i = 0; i < list.size(); i++) {
            add(list.get(i), file, where + "[" + i + "]");
          }
          break;
        }
      case "Replace":
        requireUnfused(type, file, where);
        then(HfReplace.parse(node, file, where));
        break;
      case "ByteFallback":
        requireUnfused(type, file, where);
        byteFallback = true;
        break;
      case "Fuse":
        fused = true;
        break;
      case "Strip":
        addStrip(node, file, where);
        break;
      case "Metaspace":
        {
          requireUnfused(type, file, where);
          char replacement = HfJson.character(node, "replacement", file, where);
          then(s -> s.replace(replacement, ' '));
          if (!HfPreTokenizer.Metaspace.prependScheme(node, file, where).equals("never")) {
            stripChar = ' ';
            stripCount = 1;
          }
          break;
        }
      default:
        throw new ModelFormatException(
            file,
            "unsupported "
                + where
                + " type \""
                + type
                + "\" (supported: null, Sequence, Replace,"
                + " ByteFallback, Fuse, Strip, Metaspace)");
    }
  }

  private void addStrip(JsonNode node, Path file, String where) {
    char content = HfJson.character(node, "content", file, where);
    int start = HfJson.integer(node, "start", 0, file, where);
    int stop = HfJson.integer(node, "stop", 0, file, where);
    if (start < 0 || stop < 0) {
      throw new ModelFormatException(file, where + " Strip has a negative start or stop");
    }
    if (fused) {
      // A streamed text cannot know its end, so only the start of the whole text is stripped.
      if (stop > 0) {
        throw new ModelFormatException(
            file, where + " Strip after Fuse with stop = " + stop + " is not supported");
      }
      stripChar = content;
      stripCount = start;
    } else {
      then(s -> stripEach(s, content, start, stop));
    }
  }

  /** Hugging Face's Strip on one token: up to start / stop copies of content at either end. */
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

  private void requireUnfused(String type, Path file, String where) {
    if (fused) {
      throw new ModelFormatException(
          file, where + " " + type + " after Fuse is not supported (it would see one token)");
    }
  }

  private void then(UnaryOperator<String> step) {
    UnaryOperator<String> before = perToken;
    perToken = s -> step.apply(before.apply(s));
  }
}
