package io.github.quipsharp.cli;

import io.github.quipsharp.SyntheticModel;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.safetensors.DType;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** synth-model: a Llama-shaped model with random weights for speed and scale work. */
@Command(
    name = "synth-model",
    mixinStandardHelpOptions = true,
    description = {
      "Writes a Hugging Face layout model (config.json, model.safetensors, a byte-level",
      "tokenizer.bin) with random weights N(0, 0.02^2) and norms 1, for speed and scale work.",
      "Every other command accepts it."
    })
final class SynthModelCommand implements Callable<Integer> {
  enum DTypeChoice {
    f16,
    bf16,
    f32
  }

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--dim", defaultValue = "4096", description = "Hidden size (default: ${DEFAULT-VALUE}).")
  int dim;

  @Option(names = "--hidden", defaultValue = "11008", description = "FFN width (default: ${DEFAULT-VALUE}).")
  int hidden;

  @Option(names = "--layers", defaultValue = "2", description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
  int layers;

  @Option(names = "--heads", defaultValue = "32", description = "Attention heads (default: ${DEFAULT-VALUE}).")
  int heads;

  @Option(names = "--kv-heads", defaultValue = "32", description = "Key/value heads (default: ${DEFAULT-VALUE}).")
  int kvHeads;

  @Option(names = "--vocab", defaultValue = "512", description = "Vocabulary size (default: ${DEFAULT-VALUE}; >= 259 for the byte tokenizer).")
  int vocab;

  @Option(names = "--ctx", defaultValue = "4096", description = "max_position_embeddings (default: ${DEFAULT-VALUE}).")
  int ctx;

  @Option(names = "--dtype", defaultValue = "f16", description = "f16, bf16 or f32 (default: ${DEFAULT-VALUE}).")
  DTypeChoice dtype;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the weights (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--untied", description = "Store a separate lm_head (default: tied to the embedding).")
  boolean untied;

  @Option(names = "--out", required = true, description = "Output folder (must not hold a model).")
  Path out;

  @Override
  public Integer call() throws IOException {
    PrintWriter o = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Flags.atLeast("--dim", dim, 1);
    Flags.atLeast("--hidden", hidden, 1);
    Flags.atLeast("--layers", layers, 1);
    Flags.atLeast("--heads", heads, 1);
    Flags.atLeast("--kv-heads", kvHeads, 1);
    Flags.atLeast("--vocab", vocab, 1);
    Flags.atLeast("--ctx", ctx, 1);
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException("--heads " + heads + " is not a multiple of --kv-heads "
          + kvHeads);
    }
    if (dim % heads != 0) {
      throw new IllegalArgumentException("--dim " + dim + " is not a multiple of --heads " + heads);
    }
    if ((dim / heads) % 2 != 0) {
      throw new IllegalArgumentException("--dim " + dim + " / --heads " + heads + " = " + dim / heads
          + " must be an even head size (RoPE rotates pairs)");
    }
    io.github.quipsharp.OutputFolders.requireEmpty(out, "--out"); // before the progress bar
    LlamaConfig c = new LlamaConfig("LlamaForCausalLM", dim, hidden, layers, heads, kvHeads,
        dim / heads, vocab, ctx, 10000.0, 1e-5, false, !untied, 1, 2);
    DType d = DType.valueOf(dtype.name().toUpperCase(Locale.ROOT));
    long start = System.nanoTime();
    int total = io.github.quipsharp.model.WeightSpec.all(c).size();
    ProgressBar bar = Progress.bar(err, "Writing", total, "tensors");
    try {
      SyntheticModel.write(out, c, d, seed, (name, done, all) -> bar.stepTo(done));
    } finally {
      Progress.close(bar, err);
    }
    o.printf(Locale.ROOT, "wrote %s: %,d parameters, %s, in %.1f s%n", out, c.parameterCount(),
        dtype, (System.nanoTime() - start) / 1e9);
    if (vocab < 259) {
      o.println("no tokenizer written (vocab < 259): pass --tokenizer to ppl and generate");
    }
    o.flush();
    return 0;
  }
}
