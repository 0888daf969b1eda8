package io.github.quipsharp.cli.options;

import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The fp model a quantization run reads, and its tokenizer: the same declaration for
 * {@code quipsharp quantize} and {@code quipsharp-spark quantize}.
 */
public final class SourceModelOptions {
  @Option(names = "--model", required = true,
      description = "Model: a Hugging Face folder (config.json + safetensors) or a llama2.c .bin.")
  private String model;

  @Mixin private TokenizerOption tokenizer;

  /** --model as given (a local path, or for Spark a URI). */
  public String location() {
    return model;
  }

  /** --model as a local path. */
  public Path path() {
    return FlagChecks.localPath("--model", model);
  }

  /** --tokenizer. */
  public TokenizerOption tokenizer() {
    return tokenizer;
  }

  /** The model's tokenizer (--tokenizer's, else its own). */
  public Tokenizer openTokenizer() {
    return tokenizer.open(path());
  }
}
