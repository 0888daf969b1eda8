package io.github.quipsharp.cli.options;

import io.github.quipsharp.NativeThreads;
import picocli.CommandLine.Option;

/** --threads of the native kernels, of the commands that run them. */
public final class NativeThreadsOption {
  @Option(names = "--threads", description = "Native threads (default: all hardware threads).")
  private Integer threads;

  /** The count given, checked; null when not given. */
  public Integer value() {
    FlagChecks.atLeast("--threads", threads, 1);
    if (threads != null) {
      FlagChecks.atMost("--threads", threads, NativeThreads.MAX);
    }
    return threads;
  }

  /** Sets the native thread count when --threads is given (checked first). */
  public void apply() {
    Integer t = value();
    if (t != null) {
      NativeThreads.set(t);
    }
  }
}
