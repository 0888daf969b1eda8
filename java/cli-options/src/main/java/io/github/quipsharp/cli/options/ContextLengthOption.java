package io.github.quipsharp.cli.options;

import io.github.quipsharp.ContextTooLongException;
import io.github.quipsharp.model.LlamaConfig;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** --allow-longer-context, of the commands that run windows or prompts through a model. */
public final class ContextLengthOption {
  @Option(names = "--allow-longer-context",
      description = "Run past the model's context length (max_position_embeddings), which it was "
          + "never trained for, with a warning; without it a longer --ctx or prompt is refused "
          + "(generate stops at the context length).")
  private boolean allowLongerContext;

  public boolean allowed() {
    return allowLongerContext;
  }

  /** Refuses {@code ctx} beyond the model's context length unless allowed; warns when allowed. */
  public void check(LlamaConfig c, int ctx, PrintWriter err) {
    ContextTooLongException.require(c, ctx, allowLongerContext);
    if (ctx > c.maxSeqLen()) {
      warn(err, "--ctx", ctx, c.maxSeqLen());
    }
  }

  /** The warning printed when a length past the context is allowed. */
  public static void warn(PrintWriter err, String what, long length, int contextLength) {
    err.printf(java.util.Locale.ROOT, "warning: %s %d exceeds the model's context length %d "
        + "(max_position_embeddings); results past it are not what the model was trained for%n",
        what, length, contextLength);
    err.flush();
  }
}
