package io.github.quipsharp.cli.options;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Where a quantization run writes its checkpoint, and whether it continues an interrupted run
 * there: the same declaration for {@code quipsharp quantize} and {@code quipsharp-spark quantize}.
 */
public final class RunFolderOptions {
  @Option(names = "--out", required = true,
      description = "Output folder (new or empty; or an interrupted run's folder with --resume).")
  private String out;

  @Option(names = "--resume", description = "Continue an interrupted run in --out.")
  private boolean resume;

  /** --out as given (a local path, or for Spark a URI). */
  public String location() {
    return out;
  }

  /** --out as a local path. */
  public Path path() {
    return FlagChecks.localPath("--out", out);
  }

  public boolean resume() {
    return resume;
  }
}
