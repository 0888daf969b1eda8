package io.github.quipsharp.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.quipsharp.ModelFormatException;
import java.io.IOException;
import java.nio.file.Path;

/** JSON files of models and checkpoints (config.json, tokenizer files), read with clear errors. */
public final class JsonFiles {
  private JsonFiles() {}

  /** Reads a JSON file, reporting a missing or malformed file as a {@link ModelFormatException}. */
  public static JsonNode read(Path file) {
    String why = RegularFiles.whyNot(file);
    if (why != null) {
      throw new ModelFormatException(file, why.equals("does not exist") ? "no such file" : why);
    }
    try {
      return new ObjectMapper().readTree(file.toFile());
    } catch (java.io.FileNotFoundException | java.nio.file.NoSuchFileException e) {
      throw new ModelFormatException(file, "no such file");
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      // One line: Jackson's own message adds the source and a location on further lines.
      com.fasterxml.jackson.core.JsonLocation at = e.getLocation();
      throw new ModelFormatException(file, "is not valid JSON: "
          + e.getOriginalMessage().lines().findFirst().orElse("").strip()
          + (at != null ? " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")" : ""), e);
    } catch (IOException e) {
      throw new ModelFormatException(file, "cannot be read: " + e.getMessage(), e);
    }
  }
}
