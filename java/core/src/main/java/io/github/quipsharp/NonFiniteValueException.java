package io.github.quipsharp;

/**
 * The native engine met a value that is not finite (NaN or infinite): in an argument, or inside a
 * computation whose inputs were finite (native status {@code QS_ERR_NON_FINITE}). An {@link
 * IllegalArgumentException}, like the engine's other refusals of an argument; its own type lets a
 * caller tell it from them without reading the message ({@link NonFiniteActivationException#locate}
 * does, to find the layer where activations overflow).
 */
public class NonFiniteValueException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public NonFiniteValueException(String message) {
    super(message);
  }
}
