package io.github.quipsharp.cli;

import io.github.quipsharp.Generation;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.Sampler;
import io.github.quipsharp.tokenizer.ChatTemplate;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** generate: streams a continuation of a prompt. */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = "Generates text from a prompt with an fp or quantized model, streaming it, then "
        + "prints the decoding speed in tokens/s.")
final class GenerateCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, description = "Model folder or llama2.c .bin (fp or quantized).")
  Path model;

  @Option(names = "--prompt", defaultValue = "", description = "Prompt text (default: empty, BOS only).")
  String prompt;

  @Option(names = "--chat", description = "Send the prompt as a user message through the model's "
      + "chat template (tokenizer_config.json \"chat_template\", or chat_template.jinja, next to "
      + "the tokenizer) and stop at the end of the model's turn (e.g. <|eot_id|>, <|im_end|>, "
      + "<end_of_turn>); prints only the answer.")
  boolean chat;

  @Option(names = "--tokenizer", description = "Tokenizer file (default: the model's own).")
  Path tokenizer;

  @Option(names = "--max-tokens", defaultValue = "256", description = "New tokens at most (default: ${DEFAULT-VALUE}).")
  int maxTokens;

  @Option(names = "--temperature", defaultValue = "0.8",
      description = "Softmax temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
  double temperature;

  @Option(names = "--top-k", defaultValue = "0", description = "Keep the K most likely tokens; 0 = all (default: ${DEFAULT-VALUE}).")
  int topK;

  @Option(names = "--top-p", defaultValue = "0.9", description = "Nucleus sampling threshold in (0, 1] (default: ${DEFAULT-VALUE}).")
  double topP;

  @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--threads", description = "Native threads (default: all hardware threads).")
  Integer threads;

  @Option(names = "--activation-bits", description = BenchCommand.ACTIVATION_BITS_HELP)
  Integer activationBits;

  @CommandLine.Mixin LoadFlags load;

  @CommandLine.Mixin ContextFlag context;

  @Override
  public Integer call() {
    Flags.atLeast("--threads", threads, 1);
    Flags.atLeast("--max-tokens", maxTokens, 0);
    Flags.finiteAtLeast("--temperature", temperature, 0);
    Flags.atLeast("--top-k", topK, 0);
    Flags.between("--top-p", topP, 0, 1, true);
    if (activationBits != null) {
      Flags.oneOf("--activation-bits", activationBits, 8, 16);
    }
    BenchCommand.threads(threads);
    BenchCommand.activationBits(activationBits);
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Sampler sampler = Sampler.builder().temperature(temperature).topK(topK).topP(topP).seed(seed).build();
    Tokenizer tok = TextInput.tokenizer(model, tokenizer);
    ChatTemplate template = chat ? chatTemplate() : null;
    try (LlamaModel m = LlamaModel.load(model, load.options(err))) {
      Generation.Result r = template == null
          ? generate(m, tok, prompt, maxTokens, sampler, out, context.allowLongerContext)
          : chat(m, tok, template, prompt, maxTokens, sampler, out, context.allowLongerContext);
      int contextLength = m.config().maxSeqLen();
      int length = r.promptTokens() + r.tokens().length;
      if (context.allowLongerContext && length > contextLength) {
        ContextFlag.warn(err, "the prompt and new tokens,", length, contextLength);
      } else if (length >= contextLength && r.tokens().length < maxTokens) {
        err.printf(Locale.ROOT, "stopped at the model's context length of %d tokens "
            + "(max_position_embeddings); --allow-longer-context goes past it%n", contextLength);
      }
      out.printf(Locale.ROOT, "%d prompt tokens in %.3f s, %d new tokens, %.1f tokens/s%n",
          r.promptTokens(), r.prefillSeconds(), r.tokens().length, r.tokensPerSecond());
      out.flush();
    }
    return 0;
  }

  /** The template next to the tokenizer in use; a model without one is a one-line error. */
  private ChatTemplate chatTemplate() {
    Path tokFile = tokenizer != null ? tokenizer : Tokenizer.locate(model);
    try {
      return ChatTemplate.forTokenizer(tokFile);
    } catch (ModelFormatException e) {
      throw new IllegalArgumentException("--chat needs a chat template: " + e.getMessage(), e);
    }
  }

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

  static Generation.Result generate(LlamaModel m, Tokenizer tok, String prompt, int maxTokens,
      Sampler sampler, PrintWriter out) {
    return generate(m, tok, prompt, maxTokens, sampler, out, false);
  }

  /**
   * Streams the prompt and its continuation to {@code out}; the prompt is printed only once the
   * model accepted it (a prompt beyond the context length, or logits that are not finite, leave
   * stdout empty).
   */
  static Generation.Result generate(LlamaModel m, Tokenizer tok, String prompt, int maxTokens,
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
}
