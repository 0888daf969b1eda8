package io.github.quipsharp.cli;

import io.github.quipsharp.Generation;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.Sampler;
import io.github.quipsharp.cli.options.ActivationBitsOption;
import io.github.quipsharp.cli.options.ContextLengthOption;
import io.github.quipsharp.cli.options.FlagChecks;
import io.github.quipsharp.cli.options.ModelOption;
import io.github.quipsharp.cli.options.NativeThreadsOption;
import io.github.quipsharp.cli.options.TokenizerOption;
import io.github.quipsharp.cli.options.VerificationOption;
import io.github.quipsharp.tokenizer.ChatTemplate;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** generate: streams a continuation of a prompt. */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = "Generates text from a prompt with an fp or quantized model, streaming it, then "
        + "prints the decoding speed in tokens/s.")
final class GenerateCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Mixin ModelOption model;

  @Option(names = "--prompt", defaultValue = "", description = "Prompt text (default: empty, BOS only).")
  String prompt;

  @Option(names = "--chat", description = "Send the prompt as a user message through the model's "
      + "chat template (tokenizer_config.json \"chat_template\", or chat_template.jinja, next to "
      + "the tokenizer) and stop at the end of the model's turn (e.g. <|eot_id|>, <|im_end|>, "
      + "<end_of_turn>); prints only the answer.")
  boolean chat;

  @CommandLine.Mixin TokenizerOption tokenizer;

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

  @CommandLine.Mixin NativeThreadsOption threads;

  @CommandLine.Mixin ActivationBitsOption activationBits;

  @CommandLine.Mixin VerificationOption verification;

  @CommandLine.Mixin ContextLengthOption context;

  @Override
  public Integer call() {
    FlagChecks.atLeast("--max-tokens", maxTokens, 0);
    FlagChecks.finiteAtLeast("--temperature", temperature, 0);
    FlagChecks.atLeast("--top-k", topK, 0);
    FlagChecks.between("--top-p", topP, 0, 1, true);
    threads.apply();
    activationBits.apply();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Sampler sampler = Sampler.builder().temperature(temperature).topK(topK).topP(topP).seed(seed).build();
    Tokenizer tok = tokenizer.open(model.path());
    ChatTemplate template = chat ? chatTemplate() : null;
    try (LlamaModel m = LlamaModel.load(model.path(), verification.loadOptions(err))) {
      Generation.Result r = template == null
          ? GenerationPrinter.continuation(m, tok, prompt, maxTokens, sampler, out, context.allowed())
          : GenerationPrinter.chat(m, tok, template, prompt, maxTokens, sampler, out,
              context.allowed());
      int contextLength = m.config().maxSeqLen();
      int length = r.promptTokens() + r.tokens().length;
      if (context.allowed() && length > contextLength) {
        ContextLengthOption.warn(err, "the prompt and new tokens,", length, contextLength);
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
    Path tokFile = tokenizer.fileFor(model.path());
    try {
      return ChatTemplate.forTokenizer(tokFile);
    } catch (ModelFormatException e) {
      throw new IllegalArgumentException("--chat needs a chat template: " + e.getMessage(), e);
    }
  }
}
