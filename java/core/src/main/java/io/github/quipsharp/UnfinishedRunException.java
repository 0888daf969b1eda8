package io.github.quipsharp;

import java.nio.file.Path;

/**
 * A model path that is the output folder of an unfinished quantization run ({@code .partial}, no
 * config.json yet), not a model. The message names the folder and says to finish or delete the
 * run, without naming how a command line resumes it.
 */
public class UnfinishedRunException extends ModelFormatException {
  private static final long serialVersionUID = 1L;

  /** The message after the folder's name, up to the remedy. */
  static final String WHAT = "holds an unfinished quantization run (.partial), not a model";

  public UnfinishedRunException(Path folder) {
    super(folder, WHAT + ": finish it by resuming the quantization into this folder, or delete the "
        + "folder");
  }

  /** The message with {@code finish} as the way to finish the run (e.g. a command line). */
  public String describe(String finish) {
    return file() + ": " + WHAT + ": finish it with " + finish + ", or delete the folder";
  }
}
