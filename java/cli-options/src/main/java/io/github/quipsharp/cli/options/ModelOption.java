package io.github.quipsharp.cli.options;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** --model of the commands that read any model, fp or quantized (ppl, generate, inspect, bench). */
public final class ModelOption {
  @Option(names = "--model", required = true,
      description = "Model folder or llama2.c .bin (fp or quantized).")
  private Path model;

  public Path path() {
    return model;
  }
}
