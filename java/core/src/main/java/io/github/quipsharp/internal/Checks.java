package io.github.quipsharp.internal;

/** Argument checks shared by the API classes; messages name the argument and the value. */
public final class Checks {
  private Checks() {}

  public static <T> T notNull(T value, String name) {
    if (value == null) {
      throw new IllegalArgumentException(name + " must not be null");
    }
    return value;
  }

  public static void length(int actual, long expected, String name, String what) {
    if (actual != expected) {
      throw new IllegalArgumentException(
          name + ".length = " + actual + " but must be " + expected + " (" + what + ")");
    }
  }

  public static void multipleOf(int length, int unit, String name) {
    multipleOf(length, unit, name, "" + unit);
  }

  /** "x.length = 65 must be a positive multiple of cols = 64" for a batch of vectors. */
  public static void multipleOf(int length, int unit, String name, String unitName) {
    if (length == 0 || length % unit != 0) {
      throw new IllegalArgumentException(
          name + ".length = " + length + " must be a positive multiple of " + unitName);
    }
  }

  public static void positive(long value, String name) {
    if (value <= 0) {
      throw new IllegalArgumentException(name + " = " + value + " must be positive");
    }
  }

  public static void finite(float[] values, String name) {
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        throw new IllegalArgumentException(
            name + "[" + i + "] = " + values[i] + " is not finite (NaN and infinities are rejected)");
      }
    }
  }

  /** rows * cols as an array length, or an error naming both when it does not fit in an array. */
  public static int product(int rows, int cols, String what) {
    long n = (long) rows * cols;
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          what + " of " + rows + " x " + cols + " = " + n + " elements is too large for a Java array");
    }
    return (int) n;
  }
}
