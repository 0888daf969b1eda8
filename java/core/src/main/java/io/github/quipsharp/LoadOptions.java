package io.github.quipsharp;

import java.util.function.Consumer;

/**
 * How {@link LlamaModel#load(java.nio.file.Path, LoadOptions)} and {@link QuantizedCheckpoint#open}
 * treat a quantized checkpoint's digests ({@code quipsharp.integrity} in its config.json).
 *
 * @param verify check every tensor and config field against its digest as it is read (the
 *     default); false skips the check, for a checkpoint known to be edited on purpose
 * @param warnings where a one-line warning goes (a checkpoint without digests); the default logs
 *     it through {@link System.Logger} as {@code io.github.quipsharp}
 */
public record LoadOptions(boolean verify, Consumer<String> warnings) {
  /** Verify, warnings to the platform logger. */
  public static final LoadOptions DEFAULT = new LoadOptions(true, null);

  public LoadOptions {
    if (warnings == null) {
      warnings = LoadOptions::log;
    }
  }

  /** The same options without verification. */
  public LoadOptions withoutVerification() {
    return new LoadOptions(false, warnings);
  }

  /** The same options with warnings going to {@code sink}. */
  public LoadOptions withWarnings(Consumer<String> sink) {
    return new LoadOptions(verify, sink);
  }

  private static void log(String message) {
    System.getLogger("io.github.quipsharp").log(System.Logger.Level.WARNING, message);
  }
}
