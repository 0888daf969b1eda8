package io.github.quipsharp.cli.options;

import io.github.quipsharp.LoadOptions;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** --no-verify, of the commands that load a model (ppl, generate, inspect). */
public final class VerificationOption {
  @Option(names = "--no-verify",
      description = "Load a quantized checkpoint without checking its tensors and config.json "
          + "against the digests it records (for a checkpoint edited on purpose).")
  private boolean noVerify;

  public boolean verify() {
    return !noVerify;
  }

  /** Verification unless --no-verify; warnings as one "warning:" line on {@code err}. */
  public LoadOptions loadOptions(PrintWriter err) {
    LoadOptions o = LoadOptions.DEFAULT.withWarnings(w -> {
      err.println("warning: " + OneLineErrors.oneLine(w));
      err.flush();
    });
    return noVerify ? o.withoutVerification() : o;
  }
}
