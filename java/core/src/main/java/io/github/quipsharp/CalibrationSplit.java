package io.github.quipsharp;

import java.util.Arrays;

/**
 * Keeps calibration and evaluation text disjoint: of a text's tokens (encoded as one string, BOS
 * first) the first floor(fraction·N) are calibration and the rest is the held-out tail
 * (shared/models/README.md: 75 % / 25 %).
 */
public final class CalibrationSplit {
  /** The default calibration fraction. */
  public static final double DEFAULT_FRACTION = 0.75;

  private CalibrationSplit() {}

  static int cut(int n, double fraction) {
    if (!(fraction > 0 && fraction < 1)) {
      throw new IllegalArgumentException("fraction = " + fraction + " must be in (0, 1)");
    }
    return (int) Math.floor(fraction * n);
  }

  /** The first floor(fraction·N) tokens. */
  public static int[] calibration(int[] tokens, double fraction) {
    return Arrays.copyOf(tokens, cut(tokens.length, fraction));
  }

  /** The tokens after the calibration part. */
  public static int[] heldout(int[] tokens, double fraction) {
    return Arrays.copyOfRange(tokens, cut(tokens.length, fraction), tokens.length);
  }
}
