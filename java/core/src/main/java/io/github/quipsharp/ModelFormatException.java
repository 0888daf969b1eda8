package io.github.quipsharp;

import java.nio.file.Path;

/**
 * A model, tokenizer or checkpoint file that cannot be used: missing, truncated, corrupt, of an
 * unknown architecture or a newer format version, or disagreeing with its configuration. The message
 * names the file and, where there is one, the tensor or field.
 */
public class ModelFormatException extends QuipsharpException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public ModelFormatException(Path file, String message) {
    super(file + ": " + message);
    this.file = file;
  }

  public ModelFormatException(Path file, String message, Throwable cause) {
    super(file + ": " + message, cause);
    this.file = file;
  }

  /** The offending file. */
  public Path file() {
    return file;
  }
}
