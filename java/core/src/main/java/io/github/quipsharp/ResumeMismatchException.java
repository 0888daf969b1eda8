package io.github.quipsharp;

import io.github.quipsharp.internal.SettingsDiff;
import java.util.List;
import java.util.stream.Collectors;

/**
 * An interrupted run cannot be resumed: it recorded other settings (or another model, tokenizer or
 * calibration text) than the run that wants to continue it, or no settings at all. Carries each
 * difference; the message names the settings by their keys, never a command-line flag.
 */
public class ResumeMismatchException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String folder;
  private final transient List<SettingsDiff.Difference> differences;

  /**
   * @param differences what differs; empty when the interrupted run recorded no settings
   */
  public ResumeMismatchException(String folder, List<SettingsDiff.Difference> differences) {
    super(message(folder, differences.stream().map(SettingsDiff.Difference::describe)
        .collect(Collectors.joining("; "))));
    this.folder = folder;
    this.differences = List.copyOf(differences);
  }

  /** The output folder (a local path or a URI). */
  public String folder() {
    return folder;
  }

  /** Each setting that differs; empty when the interrupted run has no run.json. */
  public List<SettingsDiff.Difference> differences() {
    return differences;
  }

  /** The message with the differences rendered as {@code describedDifferences}. */
  public String message(String describedDifferences) {
    return message(folder, describedDifferences);
  }

  private static String message(String folder, String differs) {
    return "cannot resume in " + folder + ": the interrupted run used other settings: "
        + (differs.isEmpty() ? "it has no run.json" : differs)
        + " (use the same ones, or delete " + folder + " to start over)";
  }
}
