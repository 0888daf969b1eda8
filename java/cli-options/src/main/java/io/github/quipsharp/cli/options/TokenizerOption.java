package io.github.quipsharp.cli.options;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.internal.RegularFiles;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** --tokenizer, of the commands that encode text for a model (quantize, ppl, generate). */
public final class TokenizerOption {
  @Option(names = "--tokenizer",
      description = "Tokenizer file (tokenizer.json or llama2.c .bin; default: the model's own).")
  private String tokenizer;

  /** --tokenizer as given (a local path, or for Spark a URI); null when not given. */
  public String location() {
    return tokenizer;
  }

  /** --tokenizer as a local path; null when not given. */
  public Path file() {
    return FlagChecks.localPath("--tokenizer", tokenizer);
  }

  /** The tokenizer file in use: --tokenizer, else the one next to {@code model}. */
  public Path fileFor(Path model) {
    return tokenizer != null ? file() : Tokenizer.locate(model);
  }

  /** The tokenizer of {@code model}: --tokenizer's, else the model's own. */
  public Tokenizer open(Path model) {
    return open(model, file());
  }

  /**
   * The tokenizer of {@code model}: {@code override}'s when given, else the model's own; a clear
   * error for a missing or unreadable one, naming --tokenizer as the way out.
   */
  public static Tokenizer open(Path model, Path override) {
    // What the model path is comes first: a folder with only an unfinished run's .partial would
    // otherwise be reported as a folder without a tokenizer.
    ModelSource.checkPath(model);
    try {
      Path file = override != null ? override : Tokenizer.locate(model);
      // A FIFO would block the tokenizer's reader; a folder given as --tokenizer is never one.
      String why = RegularFiles.whyNot(file);
      if (why != null) {
        throw new IllegalArgumentException((override != null ? "--tokenizer " : "tokenizer ") + file
            + " " + why);
      }
      return override != null ? Tokenizer.load(override) : Tokenizer.forModel(model);
    } catch (ModelFormatException e) {
      throw new IllegalArgumentException(e.getMessage() + (override == null
          ? " (name one with --tokenizer PATH)" : ""), e);
    }
  }
}
