package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The {@code Replace} step that both normalizers and decoders use: {@code "pattern": {"String": s}}
 * replaces every occurrence of {@code s}, {@code {"Regex": r}} every match of {@code r}.
 */
final class HfReplace {
  private HfReplace() {}

  static UnaryOperator<String> parse(JsonNode node, Path file, String where) {
    JsonNode pattern = node.get("pattern");
    String content = HfJson.text(node, "content", file, where);
    if (pattern != null && pattern.isObject() && pattern.has("String")) {
      String literal = HfJson.text(pattern, "String", file, where + " pattern");
      if (literal.isEmpty()) {
        throw new ModelFormatException(file, where + " has an empty pattern");
      }
      return s -> s.replace(literal, content);
    }
    if (pattern != null && pattern.isObject() && pattern.has("Regex")) {
      String regex = HfJson.text(pattern, "Regex", file, where + " pattern");
      Pattern compiled;
      try {
        compiled = Pattern.compile(regex);
      } catch (PatternSyntaxException e) {
        throw new ModelFormatException(
            file, where + " has a regex that Java cannot compile: " + e.getMessage(), e);
      }
      String replacement = Matcher.quoteReplacement(content);
      return s -> compiled.matcher(s).replaceAll(replacement);
    }
    throw new ModelFormatException(
        file,
        where
            + " needs a pattern {\"String\": ...} or {\"Regex\": ...}, got "
            + HfJson.abbreviate(pattern));
  }
}
