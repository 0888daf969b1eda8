package io.github.quipsharp;

/**
 * A failure of the native engine that is not the caller's argument: the native library could not be
 * loaded, native memory ran out, or an internal error occurred. Bad arguments are reported as
 * {@link IllegalArgumentException} instead.
 */
public class QuipsharpException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public QuipsharpException(String message) {
    super(message);
  }

  public QuipsharpException(String message, Throwable cause) {
    super(message, cause);
  }
}
