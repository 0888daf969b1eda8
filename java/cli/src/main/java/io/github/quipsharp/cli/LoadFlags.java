package io.github.quipsharp.cli;

import io.github.quipsharp.LoadOptions;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** The flags of commands that load a model: digest verification and the context length. */
final class LoadFlags {
  @Option(names = "--no-verify",
      description = "Load a quantized checkpoint without checking its tensors and config.json "
          + "against the digests it records (for a checkpoint edited on purpose).")
  boolean noVerify;

  @Option(names = "--allow-longer-context",
      description = "Run past the model's context length (max_position_embeddings), which it was "
          + "never trained for; without it a longer --ctx or prompt is refused (generate stops at "
          + "the context length).")
  boolean allowLongerContext;

  /** Verification unless --no-verify; warnings as one "warning:" line on {@code err}. */
  LoadOptions options(PrintWriter err) {
    return options(err, !noVerify);
  }

  static LoadOptions options(PrintWriter err, boolean verify) {
    LoadOptions o = LoadOptions.DEFAULT.withWarnings(w -> {
      err.println("warning: " + Main.oneLine(w));
      err.flush();
    });
    return verify ? o : o.withoutVerification();
  }

  /** The warning that --allow-longer-context prints when it is used. */
  static void warnLonger(PrintWriter err, String what, long length, int contextLength) {
    err.printf(java.util.Locale.ROOT, "warning: %s %d exceeds the model's context length %d "
        + "(max_position_embeddings); results past it are not what the model was trained for%n",
        what, length, contextLength);
    err.flush();
  }
}
