package io.github.quipsharp;

import io.github.quipsharp.internal.SettingsDiff;
import java.util.List;

/**
 * An interrupted run cannot be resumed: it recorded other settings (or another model, tokenizer or
 * calibration text) than the run that wants to continue it, or no settings at all. Carries each
 * difference; the message names the settings by their keys, never a command-line flag.
 */
public class ResumeMismatchException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String folder;
  /** What the message says before the differences. */
  private final String lead;
  /** The folder whose deletion starts over. */
  private final String startOver;
  private final transient List<SettingDifference> differences;

  /**
   * An interrupted quantization run in {@code folder}.
   *
   * @param differences what differs; empty when the interrupted run recorded no settings
   */
  public ResumeMismatchException(String folder, List<SettingDifference> differences) {
    this(folder, "cannot resume in " + folder + ": the interrupted run used other settings: ",
        folder, differences);
  }

  /**
   * A saved state of another kind of run (e.g. a fine-tuning's) that the new run cannot continue.
   *
   * @param folder the output folder (a local path or a URI)
   * @param lead the message before the differences, ending in ": " (e.g. "cannot resume in out:
   *     the interrupted fine-tuning used other settings: ")
   * @param startOver the folder to delete to start over
   * @param differences what differs; empty when the saved state recorded no settings
   */
  public ResumeMismatchException(String folder, String lead, String startOver,
      List<SettingDifference> differences) {
    super(message(lead, startOver, SettingsDiff.describe(differences)));
    this.folder = folder;
    this.lead = lead;
    this.startOver = startOver;
    this.differences = List.copyOf(differences);
  }

  /** The output folder (a local path or a URI). */
  public String folder() {
    return folder;
  }

  /** Each setting that differs; empty when the interrupted run has no run.json. */
  public List<SettingDifference> differences() {
    return differences;
  }

  /** The message with the differences rendered as {@code describedDifferences}. */
  public String message(String describedDifferences) {
    return message(lead, startOver, describedDifferences);
  }

  private static String message(String lead, String startOver, String differs) {
    return lead + (differs.isEmpty() ? "it has no run.json" : differs)
        + " (use the same ones, or delete " + startOver + " to start over)";
  }
}
