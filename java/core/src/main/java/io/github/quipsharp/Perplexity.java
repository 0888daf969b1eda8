package io.github.quipsharp;

import io.github.quipsharp.internal.Checks;

/**
 * Perplexity under the rule of shared/models/README.md: windows {@code tokens[s : s+ctx+1]} for s =
 * 0, ctx, 2·ctx, …; each window restarts at position 0 and predicts its tokens 1..end from the earlier
 * tokens of the same window, so every token but the first is predicted exactly once;
 * ppl = exp(Σ NLL / predictions).
 */
public final class Perplexity {
  private Perplexity() {}

  /**
   * @param tokens evaluated tokens (at least 2)
   * @param nll sum of negative log-likelihoods in nats
   */
  public record Result(int tokens, int predictions, double nll) {
    public double ppl() {
      return Math.exp(nll / predictions);
    }
  }

  /** Called after every window with the tokens predicted so far. */
  public interface Progress {
    void update(int predicted, int total);
  }

  /**
   * Perplexity of {@code tokens} in windows of {@code ctx}, which must not exceed the model's context
   * length (max_position_embeddings).
   *
   * @throws IllegalArgumentException for fewer than 2 tokens, or ctx outside [1, context length]
   * @throws NonFiniteActivationException when a window's logits are not finite, naming the first
   *     layer whose output is not (NaN or infinity would otherwise become the result)
   */
  public static Result evaluate(LlamaModel model, int[] tokens, int ctx, Progress progress) {
    return evaluate(model, tokens, ctx, progress, false);
  }

  /**
   * {@link #evaluate(LlamaModel, int[], int, Progress)}; with {@code allowLongerContext} a ctx
   * beyond the model's context length is accepted (positions it was never trained for).
   */
  public static Result evaluate(LlamaModel model, int[] tokens, int ctx, Progress progress,
      boolean allowLongerContext) {
    Checks.notNull(model, "model");
    Checks.notNull(tokens, "tokens");
    if (tokens.length < 2) {
      throw new IllegalArgumentException("perplexity needs at least 2 tokens, got " + tokens.length);
    }
    if (ctx < 1) {
      throw new IllegalArgumentException("ctx = " + ctx + " must be positive");
    }
    ContextTooLongException.require(model.config(), ctx, allowLongerContext);
    int vocab = model.config().vocabSize();
    double nll = 0;
    int predictions = 0;
    for (int s = 0; s + 1 < tokens.length; s += ctx) {
      int end = Math.min(tokens.length, s + ctx + 1);
      int[] window = java.util.Arrays.copyOfRange(tokens, s, end);
      float[] logits = NonFiniteActivationException.checkedForward(model, window, 0, true,
          () -> window, "the window of tokens " + s + ".." + (end - 1));
      for (int t = 0; t + 1 < window.length; t++) {
        nll -= logSoftmax(logits, t * vocab, vocab, window[t + 1]);
        predictions++;
      }
      if (progress != null) {
        progress.update(predictions, tokens.length - 1);
      }
    }
    return new Result(tokens.length, predictions, nll);
  }

  /** log softmax(logits[off .. off+n))[target], in double. */
  static double logSoftmax(float[] logits, int off, int n, int target) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      max = Math.max(max, logits[off + i]);
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
      sum += Math.exp(logits[off + i] - max);
    }
    return logits[off + target] - max - Math.log(sum);
  }
}
