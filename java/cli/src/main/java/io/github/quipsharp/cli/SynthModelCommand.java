package io.github.quipsharp.cli;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.SyntheticModel;
import io.github.quipsharp.cli.options.FlagChecks;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** synth-model: a model of a supported family with random weights for speed and scale work. */
@Command(
    name = "synth-model",
    mixinStandardHelpOptions = true,
    description = {
      "Writes a Hugging Face layout model of the family --arch (config.json with the family's keys,",
      "model.safetensors under the family's tensor names) with random weights N(0, 0.02^2), unit",
      "norms (Gemma: stored w = 0 of the scale 1 + w) and a tokenizer: --tokenizer's, copied with",
      "its companion files, else a byte-level tokenizer.bin. Every other command accepts it.",
      "Sizes not given are the family's real model (--layers: 2): llama: Llama-2-7B block with",
      "vocabulary 512; llama3: Llama-3.1-8B; mistral: Mistral-7B-v0.1; qwen2: Qwen2.5-7B;",
      "qwen3: Qwen3-8B; gemma: Gemma-7B; gemma2: Gemma-2-9B; phi3: Phi-3-mini-4k."
    })
final class SynthModelCommand implements Callable<Integer> {
  enum DTypeChoice {
    f16,
    bf16,
    f32
  }

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--arch", defaultValue = "llama", description = "llama, llama3, mistral, qwen2, "
      + "qwen3, gemma, gemma2 or phi3 (default: ${DEFAULT-VALUE}).")
  String arch;

  @Option(names = "--dim", description = "Hidden size (default: the family's; llama 4096).")
  Integer dim;

  @Option(names = "--hidden", description = "FFN width (default: the family's; llama 11008).")
  Integer hidden;

  @Option(names = "--layers", defaultValue = "2", description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
  int layers;

  @Option(names = "--heads", description = "Attention heads (default: the family's; llama 32).")
  Integer heads;

  @Option(names = "--kv-heads", description = "Key/value heads (default: the family's ratio of "
      + "heads to key/value heads; llama 32).")
  Integer kvHeads;

  @Option(names = "--head-dim", description = "Width of a head (default: the family's when neither "
      + "--dim nor --heads is given, else dim / heads).")
  Integer headDim;

  @Option(names = "--vocab", description = "Vocabulary size (default: the family's, or the "
      + "tokenizer's when larger; llama 512; >= 259 for the byte tokenizer).")
  Integer vocab;

  @Option(names = "--ctx", description = "max_position_embeddings (default: the family's; llama 4096).")
  Integer ctx;

  @Option(names = "--dtype", defaultValue = "f16", description = "f16, bf16 or f32 (default: ${DEFAULT-VALUE}).")
  DTypeChoice dtype;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the weights (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--untied", description = "Store a separate lm_head (default: as the family's model; "
      + "llama, gemma, gemma2 tied).")
  boolean untied;

  @Option(names = "--tied", description = "Share the embedding as the head (default: as the family's model).")
  boolean tied;

  @Option(names = "--tokenizer", description = "A tokenizer file, or a folder holding one, to copy "
      + "into the model with its companion files (tokenizer_config.json, ...).")
  Path tokenizer;

  @Option(names = "--out", required = true, description = "Output folder (must not hold a model or a tokenizer).")
  Path out;

  @Override
  public Integer call() throws IOException {
    PrintWriter o = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    FlagChecks.atLeast("--dim", dim, 1);
    FlagChecks.atLeast("--hidden", hidden, 1);
    FlagChecks.atLeast("--layers", layers, 1);
    FlagChecks.atLeast("--heads", heads, 1);
    FlagChecks.atLeast("--kv-heads", kvHeads, 1);
    FlagChecks.atLeast("--head-dim", headDim, 2);
    FlagChecks.atLeast("--vocab", vocab, 1);
    FlagChecks.atLeast("--ctx", ctx, 1);
    SyntheticModel.Arch a = SyntheticModel.Arch.ofName(arch);
    if (a == null) {
      throw new IllegalArgumentException("--arch " + arch + " is not one of " + String.join(", ",
          java.util.Arrays.stream(SyntheticModel.Arch.values()).map(SyntheticModel.Arch::cliName).toList()));
    }
    if (tied && untied) {
      throw new IllegalArgumentException("--tied and --untied contradict each other");
    }
    Path tokFile = null;
    Tokenizer tok = null;
    if (tokenizer != null) {
      if (!Files.exists(tokenizer)) {
        throw new IllegalArgumentException("--tokenizer " + tokenizer + " does not exist");
      }
      tokFile = Files.isDirectory(tokenizer) ? Tokenizer.locate(tokenizer) : tokenizer;
      tok = Tokenizer.load(tokFile);
    }
    SyntheticModel.Shape family = a.shape();
    int h = heads != null ? heads : family.heads();
    int d = dim != null ? dim : family.dim();
    int hd;
    if (headDim != null) {
      hd = headDim;
    } else if (dim == null && heads == null) {
      hd = family.headDim();
    } else {
      if (d % h != 0) {
        throw new IllegalArgumentException("--dim " + d + " is not a multiple of --heads " + h
            + " (or give --head-dim)");
      }
      hd = d / h;
    }
    int ratio = family.heads() / family.kvHeads();
    int kv = kvHeads != null ? kvHeads : heads == null ? family.kvHeads() : h % ratio == 0 ? h / ratio : h;
    int v = vocab != null ? vocab : tok != null ? Math.max(family.vocab(), tok.vocabSize()) : family.vocab();
    SyntheticModel.Shape shape = new SyntheticModel.Shape(d, hidden != null ? hidden : family.hidden(),
        layers, h, kv, hd, v, ctx != null ? ctx : family.ctx(), tied || (family.tied() && !untied));
    DType dt = DType.valueOf(dtype.name().toUpperCase(Locale.ROOT));
    // BOS/EOS: the tokenizer's (the family's where it has none), else the byte tokenizer's 1 and 2.
    if (tok != null && tok.vocabSize() > v) { // checked here to name the flag
      throw new IllegalArgumentException("tokenizer " + tokFile + " has " + tok.vocabSize()
          + " tokens, more than the model's vocabulary of " + v + " (--vocab must be at least "
          + tok.vocabSize() + ")");
    }
    LlamaConfig c;
    try {
      c = a.config(shape, dt, tok == null ? 1 : tok.bosId(), tok == null ? 2 : tok.eosId());
    } catch (IllegalArgumentException e) {
      // The core names the config it read; here it is the family this command was asked for.
      if (e.getCause() instanceof ModelFormatException m && m.file() != null
          && m.getMessage().startsWith(a.configName() + ": ")) {
        throw new IllegalArgumentException("synth-model --arch " + a.cliName() + ": "
            + m.getMessage().substring(a.configName().length() + 2), e);
      }
      throw e;
    }
    long start = System.nanoTime();
    // The bar starts with the first tensor, so that a refusal before any write is the only line.
    ProgressBar[] bar = new ProgressBar[1];
    try {
      SyntheticModel.write(out, c, dt, seed, tokFile, (name, done, all) -> {
        if (bar[0] == null) {
          bar[0] = ConsoleProgress.bar(err, "Writing", all, "tensors");
        }
        bar[0].stepTo(done);
      });
    } catch (SyntheticModel.TensorTooLargeException e) {
      throw new IllegalArgumentException(
          e.describe("use --dtype f16 or bf16, or a smaller --vocab / --dim"), e);
    } finally {
      if (bar[0] != null) {
        ConsoleProgress.close(bar[0], err);
      }
    }
    o.printf(Locale.ROOT, "wrote %s: %s (%s), %,d parameters, %s, in %.1f s%n", out, c.architecture(),
        a.cliName(), c.parameterCount(), dtype, (System.nanoTime() - start) / 1e9);
    if (tokFile != null) {
      o.println("tokenizer: " + tokFile + " (" + tok.vocabSize() + " tokens)");
    } else if (v < 259) {
      o.println("no tokenizer written (vocab < 259): pass --tokenizer to ppl and generate");
    }
    o.flush();
    return 0;
  }
}
