package io.github.quipsharp.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;

/**
 * The JSON object that ends a command's stdout (bench, ppl --json, demo): one line, so that
 * other tools read the last line.
 */
final class JsonLine {
  private static final ObjectMapper JSON = new ObjectMapper();

  private JsonLine() {}

  /** A new, empty object to fill. */
  static ObjectNode object() {
    return JSON.createObjectNode();
  }

  /** Prints {@code node} as one line on {@code out}. */
  static void print(PrintWriter out, ObjectNode node) {
    try {
      out.println(JSON.writeValueAsString(node));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write JSON: " + e.getMessage(), e);
    }
    out.flush();
  }
}
