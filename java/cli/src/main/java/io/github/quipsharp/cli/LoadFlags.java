package io.github.quipsharp.cli;

import io.github.quipsharp.LoadOptions;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** --no-verify, of the commands that load a model. */
final class LoadFlags {
  @Option(names = "--no-verify",
      description = "Load a quantized checkpoint without checking its tensors and config.json "
          + "against the digests it records (for a checkpoint edited on purpose).")
  boolean noVerify;

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
}
