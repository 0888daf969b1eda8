package io.github.quipsharp.cli.options;

import io.github.quipsharp.internal.RegularFiles;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * Checks of flag values before anything runs, with the flag's own name in the message (the
 * library's checks name its Java parameters: {@code maxTokens}, {@code refinePasses}). Each failed
 * check is an {@link IllegalArgumentException}, which {@link OneLineErrors} prints as one line.
 */
public final class FlagChecks {
  private FlagChecks() {}

  public static void atLeast(String flag, long value, long min) {
    if (value < min) {
      throw new IllegalArgumentException(flag + " = " + value + " must be >= " + min);
    }
  }

  /** As {@link #atLeast(String, long, long)}; null (the flag not given) passes. */
  public static void atLeast(String flag, Integer value, long min) {
    if (value != null) {
      atLeast(flag, (long) value, min);
    }
  }

  public static void atMost(String flag, long value, long max) {
    if (value > max) {
      throw new IllegalArgumentException(flag + " = " + value + " must be <= " + max);
    }
  }

  /** A finite number >= min ("Infinity must be >= 0" would read as a contradiction). */
  public static void finiteAtLeast(String flag, double value, double min) {
    if (!Double.isFinite(value) || value < min) {
      throw new IllegalArgumentException(flag + " = " + value + " must be a finite number >= "
          + plain(min));
    }
  }

  /** A learning rate: positive and finite; null (the flag not given) passes. */
  public static void learningRate(String flag, Double value) {
    if (value != null && !(Double.isFinite(value) && value > 0)) {
      throw new IllegalArgumentException(flag + " = " + value + ": learning rates must be positive "
          + "and finite");
    }
  }

  /** lo < value < hi (open interval), or lo < value <= hi when {@code closedHigh}. */
  public static void between(String flag, double value, double lo, double hi, boolean closedHigh) {
    if (!(value > lo && (closedHigh ? value <= hi : value < hi))) {
      throw new IllegalArgumentException(flag + " = " + value + " must be in (" + plain(lo) + ", "
          + plain(hi) + (closedHigh ? "]" : ")"));
    }
  }

  public static void oneOf(String flag, int value, int... allowed) {
    StringBuilder list = new StringBuilder();
    for (int a : allowed) {
      if (a == value) {
        return;
      }
      list.append(list.length() == 0 ? "" : ", ").append(a);
    }
    throw new IllegalArgumentException(flag + " = " + value + " must be one of " + list);
  }

  /** A regular file (a FIFO would hang the command, a folder or device is never one). */
  public static void regularFile(String flag, Path file) {
    if (file != null) {
      RegularFiles.require(file, flag);
    }
  }

  /**
   * The value of a path flag as a local path; null stays null. (The flags are read as text so that
   * the Spark command can take the same declaration with {@code hdfs://} URIs.)
   */
  public static Path localPath(String flag, String value) {
    if (value == null) {
      return null;
    }
    try {
      return Path.of(value);
    } catch (InvalidPathException e) {
      throw new IllegalArgumentException(flag + " " + value + " is not a valid path: "
          + e.getReason());
    }
  }

  private static String plain(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
