package io.github.quipsharp.cli.options;

import picocli.CommandLine.Option;

/** --ctx, the window length of the commands that run a text through a model in windows. */
public final class WindowOption {
  @Option(names = "--ctx", defaultValue = "256",
      description = "Tokens per window (default: ${DEFAULT-VALUE}).")
  private int ctx;

  /** The length given, checked: at least {@code min} tokens. */
  public int value(int min) {
    FlagChecks.atLeast("--ctx", ctx, min);
    return ctx;
  }
}
