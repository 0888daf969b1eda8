package io.github.quipsharp.cli;

import io.github.quipsharp.internal.RegularFiles;
import java.nio.file.Path;

/**
 * Checks of flag values before anything runs, with the flag's own name in the message (the
 * library's checks name its Java parameters: {@code maxTokens}, {@code refinePasses}).
 */
final class Flags {
  private Flags() {}

  static void atLeast(String flag, long value, long min) {
    if (value < min) {
      throw new IllegalArgumentException(flag + " = " + value + " must be >= " + min);
    }
  }

  static void atLeast(String flag, Integer value, long min) {
    if (value != null) {
      atLeast(flag, (long) value, min);
    }
  }

  /** A finite number >= min ("Infinity must be >= 0" would read as a contradiction). */
  static void finiteAtLeast(String flag, double value, double min) {
    if (!Double.isFinite(value) || value < min) {
      throw new IllegalArgumentException(flag + " = " + value + " must be a finite number >= "
          + plain(min));
    }
  }

  static void learningRate(String flag, Double value) {
    if (value != null && !(Double.isFinite(value) && value > 0)) {
      throw new IllegalArgumentException(flag + " = " + value + ": learning rates must be positive "
          + "and finite");
    }
  }

  /** lo < value < hi (open interval), or lo < value <= hi when {@code closedHigh}. */
  static void between(String flag, double value, double lo, double hi, boolean closedHigh) {
    if (!(value > lo && (closedHigh ? value <= hi : value < hi))) {
      throw new IllegalArgumentException(flag + " = " + value + " must be in (" + plain(lo) + ", "
          + plain(hi) + (closedHigh ? "]" : ")"));
    }
  }

  static void oneOf(String flag, int value, int... allowed) {
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
  static void regularFile(String flag, Path file) {
    if (file != null) {
      RegularFiles.require(file, flag);
    }
  }

  private static String plain(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
