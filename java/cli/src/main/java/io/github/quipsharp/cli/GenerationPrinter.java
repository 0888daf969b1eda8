package io.github.quipsharp.cli;

import io.github.quipsharp.Generation;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.Sampler;
import io.github.quipsharp.tokenizer.ChatTemplate;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.util.List;

/** Generation streamed to the output as the tokens come (generate, demo). */
final class GenerationPrinter {
  private GenerationPrinter() {}

  /**
   * Streams the prompt and its continuation to {@code out}; the prompt is printed only once the
   * model accepted it (a prompt beyond the context length, or logits that are not finite, leave
   * stdout empty).
   */
  static Generation.Result continuation(LlamaModel m, Tokenizer tok, String prompt, int maxTokens,
      Sampler sampler, PrintWriter out, boolean allowLongerContext) {
    boolean[] started = {false};
    Generation.Result r = Generation.generate(m, tok, prompt, maxTokens, sampler, piece -> {
      if (!started[0]) {
        out.print(prompt);
        started[0] = true;
      }
      out.print(piece);
      out.flush();
    }, allowLongerContext);
    if (!started[0]) {
      out.print(prompt);
    }
    out.println();
    out.flush();
    return r;
  }

  /**
   * The prompt as a user message through the chat template; streams only the answer, which ends
   * at the template's end-of-turn tokens.
   */
  static Generation.Result chat(LlamaModel m, Tokenizer tok, ChatTemplate template, String prompt,
      int maxTokens, Sampler sampler, PrintWriter out, boolean allowLongerContext) {
    String rendered = template.render(List.of(new ChatTemplate.Message("user", prompt)), true);
    Generation.Result r = Generation.generate(m, tok, tok.encode(rendered, false, false),
        template.stopIds(tok), maxTokens, sampler, piece -> {
          out.print(piece);
          out.flush();
        }, allowLongerContext);
    out.println();
    return r;
  }
}
