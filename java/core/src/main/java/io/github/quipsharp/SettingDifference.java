package io.github.quipsharp;

/**
 * One setting that differs between an interrupted run's recorded settings (its run.json) and
 * those of the run that wants to resume it ({@link ResumeMismatchException#differences}).
 *
 * @param key the setting's path in the settings object (e.g. "quant_config.bits", "model_files")
 * @param name how the message names it (the key, or e.g. "model file model.safetensors")
 * @param change what changed (e.g. "was 2, now 3", "is gone")
 */
public record SettingDifference(String key, String name, String change) {
  /** "name change", naming no command-line flag. */
  public String describe() {
    return name + " " + change;
  }

  /**
   * "name (label) change": how a command line names the difference with the flag behind
   * {@link #key} (the core knows settings keys, never flags); {@link #describe()} when null.
   */
  public String describe(String label) {
    return label == null ? describe() : name + " (" + label + ") " + change;
  }
}
