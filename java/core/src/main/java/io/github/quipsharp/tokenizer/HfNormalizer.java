package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The {@code normalizer} of a {@code tokenizer.json}, applied to each stretch of text between added
 * tokens. Supported kinds: {@code null}, {@code Sequence}, {@code Prepend}, {@code Replace}, {@code
 * Strip} and the Unicode forms {@code NFC}, {@code NFD}, {@code NFKC}, {@code NFKD}.
 */
final class HfNormalizer {
  private HfNormalizer() {}

  static UnaryOperator<String> parse(JsonNode node, Path file) {
    return parse(node, file, "normalizer");
  }

  private static UnaryOperator<String> parse(JsonNode node, Path file, String where) {
    if (HfJson.isNull(node)) {
      return UnaryOperator.identity();
    }
    String type = HfJson.type(node, file, where);
    switch (type) {
      case "Sequence":
        {
          JsonNode list = node.get("normalizers");
          if (list == null || !list.isArray()) {
            throw new ModelFormatException(file, where + " Sequence needs a \"normalizers\" array");
          }
          List<UnaryOperator<String>> steps = new ArrayList<>();
          for (int i = 0; i < list.size(); i++) {
            steps.add(parse(list.get(i), file, where + "[" + i + "]"));
          }
          return s -> {
            for (UnaryOperator<String> step : steps) {
              s = step.apply(s);
            }
            return s;
          };
        }
      case "Prepend":
        {
          String prefix = HfJson.text(node, "prepend", file, where);
          // Like Hugging Face: an empty stretch stays empty, so "" encodes to no tokens.
          return s -> s.isEmpty() ? s : prefix + s;
        }
      case "Replace":
        return HfReplace.parse(node, file, where);
      case "Strip":
        {
          boolean left = HfJson.bool(node, "strip_left", true, file, where);
          boolean right = HfJson.bool(node, "strip_right", true, file, where);
          return s -> Whitespace.strip(s, left, right);
        }
      case "NFC":
        return s -> Normalizer.normalize(s, Normalizer.Form.NFC);
      case "NFD":
        return s -> Normalizer.normalize(s, Normalizer.Form.NFD);
      case "NFKC":
        return s -> Normalizer.normalize(s, Normalizer.Form.NFKC);
      case "NFKD":
        return s -> Normalizer.normalize(s, Normalizer.Form.NFKD);
      default:
        throw new ModelFormatException(
            file,
            "unsupported "
                + where
                + " type \""
                + type
                + "\" (supported: null, Sequence, Prepend,"
                + " Replace, Strip, NFC, NFD, NFKC, NFKD)");
    }
  }
}
