package io.github.quipsharp;

/**
 * A forward pass whose activations overflowed to infinity or NaN: the weights do not fit the
 * arithmetic (e.g. a weight of 1e30), and every result computed from them would be meaningless.
 * {@link #layer()} names where the hidden states first become non-finite.
 *
 * <p>The hot paths only check the result (the logits: a few thousand floats per token); when that
 * fails, {@link #locate} runs the same tokens again one block at a time ({@link LlamaModel#embed},
 * {@link LlamaModel#layerForward}, which give the same values as the forward pass) to find the
 * layer.
 */
public class NonFiniteActivationException extends QuipsharpException {
  private static final long serialVersionUID = 1L;

  /** {@link #layer()} when the embedding rows themselves are not finite. */
  public static final int EMBEDDING = -1;

  /** {@link #layer()} when the place is not known (see {@link #locate}). */
  public static final int UNLOCATED = -2;

  private final int layer;

  public NonFiniteActivationException(String message, int layer) {
    super(message);
    this.layer = layer;
  }

  /**
   * The first block whose output is not finite: 0..layers-1, {@link #EMBEDDING}, the layer count
   * when every block is finite and the final norm or the output layer overflows, or {@link
   * #UNLOCATED}.
   */
  public int layer() {
    return layer;
  }

  /**
   * {@link LlamaModel#forward}, with logits that are not finite (or the engine's own non-finite
   * error) turned into the exception {@link #locate} gives for {@code sequence}: every token from
   * position 0 up to and including {@code tokens} (computed only when needed).
   */
  static float[] checkedForward(LlamaModel model, int[] tokens, int startPos, boolean allLogits,
      java.util.function.Supplier<int[]> sequence, String where) {
    float[] logits;
    try {
      logits = model.forward(tokens, startPos, allLogits);
    } catch (NonFiniteActivationException e) {
      throw locate(model, sequence.get(), where);
    }
    if (!allFinite(logits)) {
      throw locate(model, sequence.get(), where);
    }
    return logits;
  }

  /** Whether every value is finite. */
  static boolean allFinite(float[] values) {
    for (float v : values) {
      if (!Float.isFinite(v)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Runs {@code tokens} (from position 0) through {@code model} block by block and returns the
   * exception naming the first place whose output is not finite; {@code where} says which input
   * it was (e.g. "window 3 (tokens 768..1024)"). Afterwards the next forward pass must start at
   * position 0.
   */
  public static NonFiniteActivationException locate(LlamaModel model, int[] tokens, String where) {
    int layers = model.config().layers();
    String source = model.source() != null ? model.source() + ": " : "";
    float[] hidden = model.embed(tokens);
    if (!allFinite(hidden)) {
      return new NonFiniteActivationException(source + "the embedding rows (model.embed_tokens) "
          + "of " + where + " are not finite: the model's weights are corrupt", EMBEDDING);
    }
    for (int l = 0; l < layers; l++) {
      try {
        hidden = model.layerForward(l, hidden);
      } catch (NonFiniteValueException e) {
        // Its input is finite (checked): the engine met a non-finite value inside this block.
        hidden = null;
      }
      if (hidden == null || !allFinite(hidden)) {
        return new NonFiniteActivationException(source + "activations become non-finite (NaN or "
            + "infinite) in layer " + l + " (model.layers." + l + ") on " + where + ": its weights "
            + "overflow float arithmetic, so no result of this model can be trusted", l);
      }
    }
    return new NonFiniteActivationException(source + "the logits of " + where + " are not finite "
        + "although every layer's output is: the final norm (model.norm) or the output layer "
        + "(lm_head) overflows float arithmetic", layers);
  }
}
