package io.github.quipsharp;

/**
 * The Hessian given to {@link Quantizer#quantize} is not positive definite even after damping
 * (for example a negative-definite or strongly indefinite matrix). A positive semi-definite but
 * singular Hessian is fine: damping makes it definite.
 */
public class NotPositiveDefiniteException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public NotPositiveDefiniteException(String message) {
    super(message);
  }
}
