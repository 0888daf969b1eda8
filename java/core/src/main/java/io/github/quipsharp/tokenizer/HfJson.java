package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.quipsharp.ModelFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading {@code tokenizer.json} fields with errors that name the file and the field. */
final class HfJson {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private HfJson() {}

  static JsonNode readTree(Path file) {
    try {
      JsonNode root = MAPPER.readTree(Files.readAllBytes(file));
      if (root == null || !root.isObject()) {
        throw new ModelFormatException(file, "not a JSON object");
      }
      return root;
    } catch (JsonProcessingException e) {
      throw malformed(file, e);
    } catch (NoSuchFileException e) {
      throw new ModelFormatException(file, "no such file", e);
    } catch (IOException e) {
      throw new ModelFormatException(file, "cannot read the file: " + e, e);
    }
  }

  /** "malformed JSON at line L, column C: reason", naming the file. */
  static ModelFormatException malformed(Path file, JsonProcessingException e) {
    JsonLocation at = e.getLocation();
    String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
    return new ModelFormatException(
        file, "malformed JSON" + where + ": " + e.getOriginalMessage(), e);
  }

  /** True for a missing field and for JSON null. */
  static boolean isNull(JsonNode node) {
    return node == null || node.isNull() || node.isMissingNode();
  }

  /** The {@code type} of a component object such as a normalizer. */
  static String type(JsonNode node, Path file, String where) {
    JsonNode type = node.get("type");
    if (!node.isObject() || type == null || !type.isTextual()) {
      throw new ModelFormatException(file, where + " has no \"type\" string: " + abbreviate(node));
    }
    return type.asText();
  }

  static String text(JsonNode node, String field, Path file, String where) {
    JsonNode value = node.get(field);
    if (value == null || !value.isTextual()) {
      throw new ModelFormatException(
          file, where + " needs a string \"" + field + "\", got " + abbreviate(value));
    }
    return value.asText();
  }

  /** A string field that may be absent or null. */
  static String optionalText(JsonNode node, String field, Path file, String where) {
    JsonNode value = node.get(field);
    if (isNull(value)) {
      return null;
    }
    return text(node, field, file, where);
  }

  static boolean bool(JsonNode node, String field, boolean absent, Path file, String where) {
    JsonNode value = node.get(field);
    if (isNull(value)) {
      return absent;
    }
    if (!value.isBoolean()) {
      throw new ModelFormatException(
          file, where + " needs a boolean \"" + field + "\", got " + abbreviate(value));
    }
    return value.asBoolean();
  }

  static int integer(JsonNode node, String field, int absent, Path file, String where) {
    JsonNode value = node.get(field);
    if (isNull(value)) {
      return absent;
    }
    if (!value.canConvertToInt() || !value.isIntegralNumber()) {
      throw new ModelFormatException(
          file, where + " needs an integer \"" + field + "\", got " + abbreviate(value));
    }
    return value.asInt();
  }

  /** A single character field such as Metaspace's {@code replacement}. */
  static char character(JsonNode node, String field, Path file, String where) {
    String s = text(node, field, file, where);
    if (s.length() != 1) {
      throw new ModelFormatException(
          file, where + " \"" + field + "\" must be one character, got \"" + s + "\"");
    }
    return s.charAt(0);
  }

  static String abbreviate(JsonNode node) {
    if (node == null) {
      return "nothing";
    }
    String s = node.toString();
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }
}
