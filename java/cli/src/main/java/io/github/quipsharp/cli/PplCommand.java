package io.github.quipsharp.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.Perplexity;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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

  @Option(names = "--model", required = true, description = "Model folder or llama2.c .bin (fp or quantized).")
  Path model;

  @Option(names = "--text", required = true, description = "UTF-8 text file to evaluate.")
  Path text;

  @Option(names = "--tokenizer", description = "Tokenizer file (default: the model's own).")
  Path tokenizer;

  @Option(names = "--ctx", defaultValue = "256", description = "Tokens per window (default: ${DEFAULT-VALUE}).")
  int ctx;

  @Option(names = "--heldout",
      description = "Evaluate only the tokens after the calibration part (the last 25 %% with the "
          + "default --calibration-fraction of quantize).")
  boolean heldout;

  @Option(names = "--calibration-fraction", defaultValue = "0.75",
      description = "Calibration fraction that --heldout skips (default: ${DEFAULT-VALUE}).")
  double fraction;

  @Option(names = "--max-tokens", defaultValue = "0",
      description = "Evaluate only the first N tokens (after --heldout; default: ${DEFAULT-VALUE} = all).")
  int maxTokens;

  @Option(names = "--threads", description = "Native threads (default: all hardware threads).")
  Integer threads;

  @Option(names = "--json", description = "End with one JSON line: tokens, predictions, ppl, nll, seconds.")
  boolean json;

  @CommandLine.Mixin LoadFlags load;

  @CommandLine.Mixin ContextFlag context;

  @Override
  public Integer call() {
    Flags.atLeast("--threads", threads, 1);
    Flags.atLeast("--ctx", ctx, 1);
    Flags.atLeast("--max-tokens", maxTokens, 0);
    Flags.between("--calibration-fraction", fraction, 0, 1, false);
    BenchCommand.threads(threads);
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Tokenizer tok = TextInput.tokenizer(model, tokenizer);
    int[] tokens = TextInput.tokens(tok, text, "text file");
    int total = tokens.length;
    if (heldout) {
      tokens = CalibrationSplit.heldout(tokens, fraction);
    }
    if (maxTokens > 0 && maxTokens < tokens.length) {
      tokens = Arrays.copyOf(tokens, maxTokens);
    }
    if (tokens.length < 2) {
      throw new IllegalArgumentException("text " + text + " gives " + tokens.length
          + " token(s) to evaluate; perplexity needs at least 2");
    }
    try (LlamaModel m = LlamaModel.load(model, load.options(err))) {
      context.check(m.config(), ctx, err);
      long start = System.nanoTime();
      Perplexity.Result r;
      ProgressBar bar = Progress.bar(err, "Perplexity", tokens.length - 1, "tokens");
      try {
        r = Perplexity.evaluate(m, tokens, ctx, (done, all) -> bar.stepTo(done),
            context.allowLongerContext);
      } finally {
        Progress.close(bar, err);
      }
      if (!Double.isFinite(r.ppl())) { // finite logits, but exp(mean NLL) beyond a double
        throw new IllegalStateException(String.format(Locale.ROOT, "the perplexity overflows a "
            + "double: the mean negative log-likelihood is %.1f nats per token (the model's "
            + "logits are extreme)", r.nll() / r.predictions()));
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      out.printf(Locale.ROOT, "%s on %s%s: %d tokens (of %d), %d predictions, ppl %.4f (%.1f s)%n",
          model, text, heldout ? " (held-out part)" : "", r.tokens(), total, r.predictions(),
          r.ppl(), seconds);
      if (json) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("model", model.toString());
        o.put("text", text.toString());
        o.put("heldout", heldout);
        o.put("tokens", r.tokens());
        o.put("predictions", r.predictions());
        o.put("nll", r.nll());
        o.put("ppl", r.ppl());
        o.put("ctx", ctx);
        o.put("seconds", seconds);
        o.put("bits", m.quantization() == null ? 32 : m.quantization().config().bits());
        BenchCommand.printJson(out, o);
      }
      out.flush();
    }
    return 0;
  }
}
