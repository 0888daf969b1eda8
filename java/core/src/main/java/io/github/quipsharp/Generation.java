package io.github.quipsharp;

import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.util.function.Consumer;

/**
 * Text generation: the prompt (BOS first) is prefilled in one forward pass, then one token at a time
 * over the KV cache until EOS (or another stop token, such as a chat template's end of turn),
 * {@code maxTokens} new tokens, or the model's context length.
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
   * Generates a continuation of {@code prompt} (encoded with BOS) until EOS, and streams each
   * completed piece of text to {@code sink} (may be null); stops at the model's context length at
   * the latest.
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
    Checks.notNull(tok, "tokenizer");
    Checks.notNull(prompt, "prompt");
    return generate(model, tok, tok.encode(prompt, true, false), new int[] {tok.eosId()},
        maxTokens, sampler, sink, allowLongerContext);
  }

  /**
   * Generates after the token ids of a prompt (e.g. a chat prompt rendered by {@link
   * io.github.quipsharp.tokenizer.ChatTemplate} and encoded without BOS) until one of {@code
   * stopIds} (not part of the result), {@code maxTokens} new tokens or the model's context length,
   * and streams each completed piece of text to {@code sink} (may be null). The text is decoded
   * as the tokenizer's stream decoder gives it, which never splits a character; ids the model
   * has beyond the tokenizer's vocabulary give no text.
   *
   * @throws IllegalArgumentException for a prompt longer than the model's context length
   * @throws NonFiniteActivationException when the logits are not finite, naming the first layer
   *     whose output is not
   */
  public static Result generate(LlamaModel model, Tokenizer tok, int[] promptIds, int[] stopIds,
      int maxTokens, Sampler sampler, Consumer<String> sink) {
    return generate(model, tok, promptIds, stopIds, maxTokens, sampler, sink, false);
  }

  /**
   * {@link #generate(LlamaModel, Tokenizer, int[], int[], int, Sampler, Consumer)}; with {@code
   * allowLongerContext} the prompt and the new tokens may run past the model's context length.
   */
  public static Result generate(LlamaModel model, Tokenizer tok, int[] promptIds, int[] stopIds,
      int maxTokens, Sampler sampler, Consumer<String> sink, boolean allowLongerContext) {
    Checks.notNull(model, "model");
    Checks.notNull(tok, "tokenizer");
    Checks.notNull(promptIds, "promptIds");
    Checks.notNull(stopIds, "stopIds");
    Checks.notNull(sampler, "sampler");
    if (maxTokens < 0) {
      throw new IllegalArgumentException("maxTokens = " + maxTokens + " must be >= 0");
    }
    if (promptIds.length == 0) {
      throw new IllegalArgumentException("the prompt has no tokens");
    }
    if (tok.vocabSize() > model.config().vocabSize()) {
      throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize()
          + " tokens but the model only " + model.config().vocabSize());
    }
    int limit = allowLongerContext ? maxTokens
        : Math.min(maxTokens, model.config().maxSeqLen() - promptIds.length);
    if (limit < 0) {
      throw new IllegalArgumentException("the prompt has " + promptIds.length
          + " tokens, more than the model's context length of " + model.config().maxSeqLen()
          + " (max_position_embeddings)");
    }
    // The decoder sees the prompt first, so that the first new token keeps its leading space.
    // What it returns for the prompt's own text, which can come late (a character still open at
    // the end of the prompt completes with the next token), is not streamed again.
    NewText stream = new NewText(tok, promptIds);
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
      if (contains(stopIds, next)) {
        break;
      }
      out[n] = next;
      emit(stream.push(next), text, sink);
      if (n + 1 < limit) {
        int count = n + 1;
        logits = NonFiniteActivationException.checkedForward(model, new int[] {next},
            promptIds.length + n, false, () -> sequence(promptIds, out, count),
            "the prompt and " + count + " generated token(s)");
      }
    }
    emit(stream.flush(), text, sink);
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

  private static boolean contains(int[] ids, int id) {
    for (int s : ids) {
      if (s == id) {
        return true;
      }
    }
    return false;
  }

  private static void emit(String piece, StringBuilder text, Consumer<String> sink) {
    text.append(piece);
    if (sink != null && !piece.isEmpty()) {
      sink.accept(piece);
    }
  }

  /**
   * The tokenizer's stream decoder over prompt and new tokens, less the prompt's text: the first
   * {@code decode(prompt).length()} characters it returns (the stream equals decode) are dropped.
   */
  private static final class NewText {
    private final Tokenizer.StreamDecoder stream;
    private final int vocabSize;
    private int skip;

    NewText(Tokenizer tok, int[] promptIds) {
      stream = tok.newStreamDecoder();
      vocabSize = tok.vocabSize();
      skip = tok.decode(promptIds).length();
    }

    /**
     * Ids past the tokenizer's vocabulary (models pad their embedding, e.g. Qwen's 151,936 rows
     * for 151,669 tokens) have no text; they decode to nothing, as in Hugging Face's decode.
     */
    String push(int id) {
      return id < vocabSize ? drop(stream.push(id)) : "";
    }

    String flush() {
      return drop(stream.flush());
    }

    private String drop(String piece) {
      int cut = Math.min(skip, piece.length());
      skip -= cut;
      return piece.substring(cut);
    }
  }
}
