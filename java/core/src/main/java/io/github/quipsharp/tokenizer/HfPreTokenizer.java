package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The {@code pre_tokenizer} of a {@code tokenizer.json}: splits a normalized stretch of text into
 * the words that BPE encodes separately. Supported kinds: {@code null} (one word), {@code
 * Metaspace} and a {@code Sequence} of these.
 */
interface HfPreTokenizer {
  /**
   * Splits {@code text} into words appended to {@code out}.
   *
   * @param atTextStart whether {@code text} starts at the beginning of the input (offset 0), which
   *     Metaspace's {@code prepend_scheme: "first"} asks for
   */
  void split(String text, boolean atTextStart, List<String> out);

  static HfPreTokenizer parse(JsonNode node, Path file) {
    return parse(node, file, "pre_tokenizer");
  }

  private static HfPreTokenizer parse(JsonNode node, Path file, String where) {
    if (HfJson.isNull(node)) {
      return (text, atTextStart, out) -> out.add(text);
    }
    String type = HfJson.type(node, file, where);
    switch (type) {
      case "Sequence":
        {
          JsonNode list = node.get("pretokenizers");
          if (list == null || !list.isArray()) {
            throw new ModelFormatException(
                file, where + " Sequence needs a \"pretokenizers\" array");
          }
          List<HfPreTokenizer> steps = new ArrayList<>();
          for (int i = 0; i < list.size(); i++) {
            steps.add(parse(list.get(i), file, where + "[" + i + "]"));
          }
          return (text, atTextStart, out) -> {
            List<String> words = List.of(text);
            for (HfPreTokenizer step : steps) {
              List<String> next = new ArrayList<>();
              for (int w = 0; w < words.size(); w++) {
                // Only the first word of the first stretch still starts at offset 0.
                step.split(words.get(w), atTextStart && w == 0, next);
              }
              words = next;
            }
            out.addAll(words);
          };
        }
      case "Metaspace":
        return Metaspace.parse(node, file, where);
      default:
        throw new ModelFormatException(
            file,
            "unsupported "
                + where
                + " type \""
                + type
                + "\" (supported: null, Sequence, Metaspace)");
    }
  }

  /**
   * Spaces become {@code replacement} ({@code ▁}); the replacement is put in front according to the
   * prepend scheme unless the text already starts with it; with {@code split}, every replacement
   * character starts a new word.
   */
  final class Metaspace implements HfPreTokenizer {
    private final char replacement;
    private final String scheme;
    private final boolean splitWords;

    private Metaspace(char replacement, String scheme, boolean splitWords) {
      this.replacement = replacement;
      this.scheme = scheme;
      this.splitWords = splitWords;
    }

    static Metaspace parse(JsonNode node, Path file, String where) {
      return new Metaspace(
          HfJson.character(node, "replacement", file, where),
          prependScheme(node, file, where),
          HfJson.bool(node, "split", true, file, where));
    }

    /**
     * {@code "always"}, {@code "first"} or {@code "never"}; files written before {@code
     * prepend_scheme} existed say {@code add_prefix_space} instead (true means always).
     */
    static String prependScheme(JsonNode node, Path file, String where) {
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

    @Override
    public void split(String text, boolean atTextStart, List<String> out) {
      String s = text.replace(' ', replacement);
      boolean prepend = scheme.equals("always") || (scheme.equals("first") && atTextStart);
      if (prepend && !s.isEmpty() && s.charAt(0) != replacement) {
        s = replacement + s;
      }
      if (!splitWords) {
        out.add(s);
        return;
      }
      // Hugging Face's MergedWithNext: each replacement character begins a word.
      int start = 0;
      for (int i = 1; i < s.length(); i++) {
        if (s.charAt(i) == replacement) {
          out.add(s.substring(start, i));
          start = i;
        }
      }
      if (start < s.length()) {
        out.add(s.substring(start));
      }
    }
  }
}
