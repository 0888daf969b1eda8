package io.github.quipsharp.finetune;

/**
 * Fine-tuning stopped: the loss became NaN or infinite (usually a learning rate too high), or the
 * inputs do not belong together. The message says what was kept.
 */
public final class FineTuneException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public FineTuneException(String message) {
    super(message);
  }

  public FineTuneException(String message, Throwable cause) {
    super(message, cause);
  }
}
