package io.github.quipsharp;

import java.util.List;

/**
 * An output folder that cannot take the result: it is a file, it is not empty, or it cannot be
 * listed or created. Nothing was written. Carries the folder and the problem; the message names
 * the folder as "output folder", and {@link #describe} lets a command line name its flag instead.
 */
public class OutputFolderException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** What is wrong with the folder. */
  public enum Problem {
    /** The path exists and is a file. */
    IS_A_FILE,
    /** The folder holds entries ({@link #entries}). */
    NOT_EMPTY,
    /** The folder holds tokenizer files ({@link #entries}) that a new model would be read with. */
    HOLDS_TOKENIZER_FILES,
    /** The folder cannot be listed ({@link #reason}). */
    CANNOT_BE_LISTED,
    /** The folder cannot be created ({@link #reason}). */
    CANNOT_BE_CREATED
  }

  private final String folder;
  private final Problem problem;
  private final List<String> entries;
  private final String reason;

  /**
   * @param entries the first names found (NOT_EMPTY: up to 4, HOLDS_TOKENIZER_FILES: all), else empty
   * @param reason why a listing or creation failed, else null
   */
  public OutputFolderException(String folder, Problem problem, List<String> entries, String reason,
      Throwable cause) {
    super(describe("output folder", folder, problem, entries, reason), cause);
    this.folder = folder;
    this.problem = problem;
    this.entries = List.copyOf(entries);
    this.reason = reason;
  }

  public String folder() {
    return folder;
  }

  public Problem problem() {
    return problem;
  }

  /** The entries found in the folder (see {@link Problem}). */
  public List<String> entries() {
    return entries;
  }

  /** Why listing or creating failed (null for the other problems). */
  public String reason() {
    return reason;
  }

  /** The message with the folder introduced as {@code name} (e.g. a command line's flag). */
  public String describe(String name) {
    return describe(name, folder, problem, entries, reason);
  }

  private static String describe(String name, String folder, Problem problem, List<String> entries,
      String reason) {
    String f = name + " " + folder;
    return switch (problem) {
      case IS_A_FILE -> f + " is a file, not a folder";
      case NOT_EMPTY -> f + " exists and is not empty (it holds "
          + String.join(", ", entries.subList(0, Math.min(3, entries.size())))
          + (entries.size() > 3 ? ", ..." : "") + "); choose a new or empty folder (nothing was "
          + "overwritten)";
      case HOLDS_TOKENIZER_FILES -> f + " is not empty: it already holds tokenizer files " + entries
          + " that the new model would be read with; choose a new or empty folder (nothing was "
          + "overwritten)";
      case CANNOT_BE_LISTED -> f + " cannot be listed: " + reason;
      case CANNOT_BE_CREATED -> f + " cannot be created: " + reason;
    };
  }
}
