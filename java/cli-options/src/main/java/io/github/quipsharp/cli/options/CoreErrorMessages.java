package io.github.quipsharp.cli.options;

import io.github.quipsharp.CheckpointChangedException;
import io.github.quipsharp.ContextTooLongException;
import io.github.quipsharp.InterruptedRunException;
import io.github.quipsharp.OutputFolderException;
import io.github.quipsharp.ResumeMismatchException;
import io.github.quipsharp.UnfinishedRunException;

/**
 * The command line's wording of the core's typed errors: the core names facts (a folder, two
 * lengths, the settings that differ), the command line names the flag that changes them.
 */
final class CoreErrorMessages {
  /** The typed core errors this class words; {@link OneLineErrors#standard} maps each through it. */
  static final java.util.List<Class<? extends RuntimeException>> TYPES = java.util.List.of(
      OutputFolderException.class, InterruptedRunException.class, ResumeMismatchException.class,
      ContextTooLongException.class, CheckpointChangedException.class,
      UnfinishedRunException.class);

  private CoreErrorMessages() {}

  /** The one-line message of {@code e} naming the flags, or null when it is not a typed core error. */
  static String of(Throwable e) {
    if (e instanceof OutputFolderException o) {
      return o.describe("--out");
    }
    if (e instanceof InterruptedRunException r) {
      return r.folder() + " holds an interrupted run; pass --resume to continue it, choose another "
          + "--out, or delete " + r.folder() + " to start over";
    }
    if (e instanceof ResumeMismatchException r) {
      return r.message(SettingFlags.describe(r.differences()));
    }
    if (e instanceof ContextTooLongException c) {
      return "--ctx " + c.length() + " exceeds the model's context length " + c.contextLength()
          + " (max_position_embeddings); use at most " + c.contextLength()
          + ", or --allow-longer-context to run past it anyway";
    }
    if (e instanceof CheckpointChangedException c) {
      return c.file() + ": " + c.detail() + "; --no-verify loads it anyway";
    }
    if (e instanceof UnfinishedRunException u) {
      return u.describe("quantize --resume --out " + u.file());
    }
    return null;
  }
}
