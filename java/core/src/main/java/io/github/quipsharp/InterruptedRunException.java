package io.github.quipsharp;

/**
 * The output folder holds an interrupted quantization run, and the new run was not asked to resume
 * it. Nothing was changed. The message names no command-line flag.
 */
public class InterruptedRunException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String folder;

  public InterruptedRunException(String folder) {
    super(folder + " holds an interrupted run; resume it, choose another output folder, or delete "
        + folder + " to start over");
    this.folder = folder;
  }

  /** The output folder (a local path or a URI). */
  public String folder() {
    return folder;
  }
}
