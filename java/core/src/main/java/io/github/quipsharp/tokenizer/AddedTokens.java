package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The {@code added_tokens} of a {@code tokenizer.json} (such as {@code <s>}), which Hugging Face
 * finds in the input text before BPE: tokens marked {@code normalized: false} in the raw text, the
 * others in the normalized text. Matching is leftmost-longest and non-overlapping; {@code
 * single_word} rejects a match inside a word, {@code lstrip} / {@code rstrip} let the token swallow
 * the whitespace to its left / right.
 */
final class AddedTokens {
  /** One entry of {@code added_tokens}. */
  record Token(
      int id,
      String content,
      boolean special,
      boolean singleWord,
      boolean lstrip,
      boolean rstrip,
      boolean normalized) {}

  /** A stretch of text: either plain text or one added token. */
  record Segment(String text, int addedId, boolean atTextStart) {
    boolean isAdded() {
      return addedId >= 0;
    }
  }

  private final List<Token> all;
  private final Matcher raw;
  private final Matcher normalizedMatcher;

  private AddedTokens(List<Token> all, Matcher raw, Matcher normalizedMatcher) {
    this.all = all;
    this.raw = raw;
    this.normalizedMatcher = normalizedMatcher;
  }

  /**
   * @param normalizer the tokenizer's normalizer: tokens with {@code normalized: true} are matched
   *     by their normalized content, as Hugging Face does
   */
  static AddedTokens parse(JsonNode node, UnaryOperator<String> normalizer, Path file) {
    List<Token> all = new ArrayList<>();
    if (!HfJson.isNull(node)) {
      if (!node.isArray()) {
        throw new ModelFormatException(file, "\"added_tokens\" is not an array");
      }
      for (int i = 0; i < node.size(); i++) {
        JsonNode t = node.get(i);
        String where = "added_tokens[" + i + "]";
        if (!t.isObject()) {
          throw new ModelFormatException(file, where + " is not an object");
        }
        int id = HfJson.integer(t, "id", -1, file, where);
        if (id < 0) {
          throw new ModelFormatException(file, where + " needs a non-negative \"id\"");
        }
        String content = HfJson.text(t, "content", file, where);
        if (content.isEmpty()) {
          throw new ModelFormatException(file, where + " has an empty \"content\"");
        }
        boolean special = HfJson.bool(t, "special", false, file, where);
        all.add(
            new Token(
                id,
                content,
                special,
                HfJson.bool(t, "single_word", false, file, where),
                HfJson.bool(t, "lstrip", false, file, where),
                HfJson.bool(t, "rstrip", false, file, where),
                HfJson.bool(t, "normalized", !special, file, where)));
      }
    }
    Map<String, Token> raw = new HashMap<>();
    Map<String, Token> normalized = new HashMap<>();
    for (Token t : all) {
      if (t.normalized()) {
        String pattern = normalizer.apply(t.content());
        if (!pattern.isEmpty()) {
          normalized.put(pattern, t);
        }
      } else {
        raw.put(t.content(), t);
      }
    }
    return new AddedTokens(all, new Matcher(raw), new Matcher(normalized));
  }

  List<Token> all() {
    return all;
  }

  /** Splits raw input text by the tokens that are matched before normalization. */
  List<Segment> splitRaw(String text) {
    return raw.split(text, true);
  }

  /** Splits one normalized stretch by the tokens that are matched after normalization. */
  List<Segment> splitNormalized(String text, boolean atTextStart) {
    return normalizedMatcher.split(text, atTextStart);
  }

  /** Leftmost-longest matching of a fixed set of strings, indexed by first character. */
  private static final class Matcher {
    private final Map<Character, List<Map.Entry<String, Token>>> byFirstChar = new HashMap<>();

    Matcher(Map<String, Token> patterns) {
      for (Map.Entry<String, Token> e : patterns.entrySet()) {
        byFirstChar.computeIfAbsent(e.getKey().charAt(0), c -> new ArrayList<>()).add(e);
      }
      for (List<Map.Entry<String, Token>> list : byFirstChar.values()) {
        list.sort(Comparator.comparingInt((Map.Entry<String, Token> e) -> -e.getKey().length()));
      }
    }

    List<Segment> split(String text, boolean atTextStart) {
      List<Segment> out = new ArrayList<>();
      if (byFirstChar.isEmpty()) {
        if (!text.isEmpty()) {
          out.add(new Segment(text, -1, atTextStart));
        }
        return out;
      }
      int done = 0; // end of the text already emitted
      int pos = 0;
      while (pos < text.length()) {
        Map.Entry<String, Token> match = longestAt(text, pos);
        if (match == null) {
          pos++;
          continue;
        }
        Token token = match.getValue();
        int start = pos;
        int stop = pos + match.getKey().length();
        // The scan resumes after the match even when it is rejected below: Hugging Face filters
        // the non-overlapping matches of its automaton, it does not search again.
        pos = stop;
        if (token.singleWord() && (wordCharBefore(text, start) || wordCharAt(text, stop))) {
          continue;
        }
        if (token.lstrip()) {
          start = Math.max(done, Whitespace.trimBackFrom(text, start));
        }
        if (token.rstrip()) {
          stop = Whitespace.trimForwardFrom(text, stop);
          pos = stop;
        }
        if (done < start) {
          out.add(new Segment(text.substring(done, start), -1, atTextStart && done == 0));
        }
        out.add(new Segment(text.substring(start, stop), token.id(), atTextStart && start == 0));
        done = stop;
      }
      if (done < text.length()) {
        out.add(new Segment(text.substring(done), -1, atTextStart && done == 0));
      }
      return out;
    }

    private Map.Entry<String, Token> longestAt(String text, int pos) {
      List<Map.Entry<String, Token>> candidates = byFirstChar.get(text.charAt(pos));
      if (candidates != null) {
        for (Map.Entry<String, Token> e : candidates) {
          if (text.startsWith(e.getKey(), pos)) {
            return e;
          }
        }
      }
      return null;
    }

    private static boolean wordCharBefore(String text, int index) {
      return index > 0 && isWordChar(text.codePointBefore(index));
    }

    private static boolean wordCharAt(String text, int index) {
      return index < text.length() && isWordChar(text.codePointAt(index));
    }

    /** Regex {@code \w} in Unicode mode: letters, digits, marks and connector punctuation. */
    private static boolean isWordChar(int cp) {
      if (Character.isLetterOrDigit(cp)) {
        return true;
      }
      int type = Character.getType(cp);
      return type == Character.NON_SPACING_MARK
          || type == Character.ENCLOSING_MARK
          || type == Character.COMBINING_SPACING_MARK
          || type == Character.CONNECTOR_PUNCTUATION;
    }
  }
}
