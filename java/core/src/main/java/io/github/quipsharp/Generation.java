package io.github.quipsharp;

import io.github.quipsharp.tokenizer.Tokenizer;
import java.util.function.Consumer;

/**
 * Text generation: the prompt (BOS first) is prefilled in one forward pass, then one token at a time
 * over the KV cache until EOS, {@code maxTokens} new tokens, or the model's context length.
 */
public final class Generation {
  private Generation() {}

  /**
   * @param tokens the new token ids
   * @param text their decoded text
   * @param prefillSeconds time of the prompt's forward pass
   * @param decodeSeconds time of the token-by-token steps (sampling included)
   */
  public record Result(int promptTokens, int[] tokens, String text, double prefillSeconds,
      double decodeSeconds) {
    /** New tokens per second of the decoding steps (the first token comes from the prefill). */
    public double tokensPerSecond() {
      int steps = Math.max(0, tokens.length - 1);
      return decodeSeconds > 0 ? steps / decodeSeconds : 0;
    }
  }

  /**
   * Generates and streams each completed piece of text to {@code sink} (may be null), stopping at
   * the model's context length at the latest.
   *
   * @throws IllegalArgumentException for a prompt longer than the model's context length
   * @throws NonFiniteActivationException when the logits are not finite, naming the first layer
   *     whose output is not (sampling from NaN would otherwise produce arbitrary tokens)
   */
  public static Result generate(LlamaModel model, Tokenizer tok, String prompt, int maxTokens,
      Sampler sampler, Consumer<String> sink) {
    return generate(model, tok, prompt, maxTokens, sampler, sink, false);
  }

  /**
   * {@link #generate(LlamaModel, Tokenizer, String, int, Sampler, Consumer)}; with {@code
   * allowLongerContext} the prompt and the new tokens may run past the model's context length
   * (positions it was never trained for) up to {@code maxTokens}.
   */
  public static Result generate(LlamaModel model, Tokenizer tok, String prompt, int maxTokens,
      Sampler sampler, Consumer<String> sink, boolean allowLongerContext) {
    Checks.notNull(model, "model");
    Checks.notNull(tok, "tokenizer");
    Checks.notNull(prompt, "prompt");
    Checks.notNull(sampler, "sampler");
    if (maxTokens < 0) {
      throw new IllegalArgumentException("maxTokens = " + maxTokens + " must be >= 0");
    }
    if (tok.vocabSize() > model.config().vocabSize()) {
      throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize()
          + " tokens but the model only " + model.config().vocabSize());
    }
    int[] promptIds = tok.encode(prompt, true, false);
    int limit = allowLongerContext ? maxTokens
        : Math.min(maxTokens, model.config().maxSeqLen() - promptIds.length);
    if (limit < 0) {
      throw new IllegalArgumentException("the prompt has " + promptIds.length
          + " tokens, more than the model's context length of " + model.config().maxSeqLen()
          + " (max_position_embeddings)");
    }
    // The decoder sees the prompt first, so that the first new token keeps its leading space; the
    // prompt's own text is not streamed again.
    Tokenizer.StreamDecoder stream = tok.newStreamDecoder();
    for (int id : promptIds) {
      stream.push(id);
    }
    StringBuilder text = new StringBuilder();
    int[] out = new int[limit];
    int n = 0;
    long t0 = System.nanoTime();
    float[] logits = NonFiniteActivationException.checkedForward(model, promptIds, 0, false,
        () -> promptIds, "the prompt");
    long t1 = System.nanoTime();
    for (; n < limit; n++) {
      int next = sampler.sample(logits);
      if (next == tok.eosId()) {
        break;
      }
      out[n] = next;
      String piece = stream.push(next);
      text.append(piece);
      if (sink != null && !piece.isEmpty()) {
        sink.accept(piece);
      }
      if (n + 1 < limit) {
        int count = n + 1;
        logits = NonFiniteActivationException.checkedForward(model, new int[] {next},
            promptIds.length + n, false, () -> sequence(promptIds, out, count),
            "the prompt and " + count + " generated token(s)");
      }
    }
    String tail = stream.flush();
    text.append(tail);
    if (sink != null && !tail.isEmpty()) {
      sink.accept(tail);
    }
    long t2 = System.nanoTime();
    return new Result(promptIds.length, java.util.Arrays.copyOf(out, n), text.toString(),
        (t1 - t0) / 1e9, (t2 - t1) / 1e9);
  }

  /** The prompt followed by the first {@code count} generated tokens. */
  private static int[] sequence(int[] prompt, int[] generated, int count) {
    int[] all = java.util.Arrays.copyOf(prompt, prompt.length + count);
    System.arraycopy(generated, 0, all, prompt.length, count);
    return all;
  }
}
