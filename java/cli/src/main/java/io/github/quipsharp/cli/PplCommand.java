package io.github.quipsharp.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.Perplexity;
import io.github.quipsharp.cli.options.CalibrationFractionOption;
import io.github.quipsharp.cli.options.ContextLengthOption;
import io.github.quipsharp.cli.options.FlagChecks;
import io.github.quipsharp.cli.options.ModelOption;
import io.github.quipsharp.cli.options.NativeThreadsOption;
import io.github.quipsharp.cli.options.TokenizerOption;
import io.github.quipsharp.cli.options.VerificationOption;
import io.github.quipsharp.cli.options.WindowOption;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** ppl: perplexity of a model (fp or quantized) on a text. */
@Command(
    name = "ppl",
    mixinStandardHelpOptions = true,
    description = {
      "Perplexity on a text file, under the rule of shared/models/README.md: the text is encoded",
      "as one string (BOS first); windows tokens[s : s+ctx+1] for s = 0, ctx, 2ctx, ... each",
      "restart at position 0 and predict their tokens 1..end; every token but the first is",
      "predicted once; ppl = exp(sum NLL / predictions). Works for fp and quantized models."
    })
final class PplCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Mixin ModelOption model;

  @Option(names = "--text", required = true, description = "UTF-8 text file to evaluate.")
  Path text;

  @CommandLine.Mixin TokenizerOption tokenizer;

  @CommandLine.Mixin WindowOption ctx;

  @Option(names = "--heldout",
      description = "Evaluate only the tokens after the calibration part (the last 25 %% with the "
          + "default --calibration-fraction of quantize).")
  boolean heldout;

  @CommandLine.Mixin CalibrationFractionOption fraction;

  @Option(names = "--max-tokens", defaultValue = "0",
      description = "Evaluate only the first N tokens (after --heldout; default: ${DEFAULT-VALUE} = all).")
  int maxTokens;

  @CommandLine.Mixin NativeThreadsOption threads;

  @Option(names = "--json", description = "End with one JSON line: tokens, predictions, ppl, nll, seconds.")
  boolean json;

  @CommandLine.Mixin VerificationOption verification;

  @CommandLine.Mixin ContextLengthOption context;

  @Override
  public Integer call() {
    int windowLength = ctx.value(1);
    FlagChecks.atLeast("--max-tokens", maxTokens, 0);
    fraction.value();
    threads.apply();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Tokenizer tok = tokenizer.open(model.path());
    int[] tokens = TextInput.tokens(tok, text, "text file");
    int total = tokens.length;
    if (heldout) {
      tokens = fraction.heldoutPart(tokens);
    }
    if (maxTokens > 0 && maxTokens < tokens.length) {
      tokens = Arrays.copyOf(tokens, maxTokens);
    }
    if (tokens.length < 2) {
      throw new IllegalArgumentException("text " + text + " gives " + tokens.length
          + " token(s) to evaluate; perplexity needs at least 2");
    }
    try (LlamaModel m = LlamaModel.load(model.path(), verification.loadOptions(err))) {
      context.check(m.config(), windowLength, err);
      long start = System.nanoTime();
      Perplexity.Result r;
      ProgressBar bar = ConsoleProgress.bar(err, "Perplexity", tokens.length - 1, "tokens");
      try {
        r = Perplexity.evaluate(m, tokens, windowLength, (done, all) -> bar.stepTo(done),
            context.allowed());
      } finally {
        ConsoleProgress.close(bar, err);
      }
      if (!Double.isFinite(r.ppl())) { // finite logits, but exp(mean NLL) beyond a double
        throw new IllegalStateException(String.format(Locale.ROOT, "the perplexity overflows a "
            + "double: the mean negative log-likelihood is %.1f nats per token (the model's "
            + "logits are extreme)", r.nll() / r.predictions()));
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      out.printf(Locale.ROOT, "%s on %s%s: %d tokens (of %d), %d predictions, ppl %.4f (%.1f s)%n",
          model.path(), text, heldout ? " (held-out part)" : "", r.tokens(), total, r.predictions(),
          r.ppl(), seconds);
      if (json) {
        ObjectNode o = JsonLine.object();
        o.put("model", model.path().toString());
        o.put("text", text.toString());
        o.put("heldout", heldout);
        o.put("tokens", r.tokens());
        o.put("predictions", r.predictions());
        o.put("nll", r.nll());
        o.put("ppl", r.ppl());
        o.put("ctx", windowLength);
        o.put("seconds", seconds);
        o.put("bits", m.quantization() == null ? 32 : m.quantization().config().bits());
        JsonLine.print(out, o);
      }
      out.flush();
    }
    return 0;
  }
}
