package io.github.quipsharp;

import io.github.quipsharp.model.LlamaConfig;

/**
 * Windows (or a prompt) longer than the model's context length (max_position_embeddings), which
 * the model never saw and was not measured for. Carries both lengths; the message names no
 * command-line flag (a command line says which of its options to change).
 */
public class ContextTooLongException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final long length;
  private final int contextLength;

  public ContextTooLongException(long length, int contextLength) {
    super("ctx " + length + " exceeds the model's context length " + contextLength
        + " (max_position_embeddings); use at most " + contextLength
        + ", or allow a longer context to run past it anyway");
    this.length = length;
    this.contextLength = contextLength;
  }

  /** The length asked for. */
  public long length() {
    return length;
  }

  /** The model's context length (max_position_embeddings). */
  public int contextLength() {
    return contextLength;
  }

  /** Refuses {@code length} beyond the model's context length unless {@code allowLonger}. */
  public static void require(LlamaConfig c, long length, boolean allowLonger) {
    if (length > c.maxSeqLen() && !allowLonger) {
      throw new ContextTooLongException(length, c.maxSeqLen());
    }
  }
}
