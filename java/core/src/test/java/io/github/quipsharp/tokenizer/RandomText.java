package io.github.quipsharp.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;

/** Random short test strings built from a vocabulary, for the merge-order tests. */
final class RandomText {
  private RandomText() {}

  /**
   * A mix of: concatenations of a few vocabulary pieces (real merges cascade), strings over a tiny
   * alphabet (runs such as "aaaa" make equal-score pairs compete), and strings of any characters
   * seen in the vocabulary plus some that are not (byte fallback).
   */
  static List<String> strings(Random rnd, List<String> pieces, int count) {
    TreeSet<Integer> chars = new TreeSet<>();
    for (String p : pieces) {
      p.codePoints().forEach(chars::add);
    }
    int[] alphabet = chars.stream().mapToInt(Integer::intValue).toArray();
    int[] tiny = " aetnh".codePoints().toArray();
    int[] outside = "é日😀\t\n€™".codePoints().toArray();
    List<String> out = new ArrayList<>();
    for (int k = 0; k < count; k++) {
      StringBuilder sb = new StringBuilder();
      switch (k % 3) {
        case 0:
          for (int n = 1 + rnd.nextInt(5); n > 0; n--) {
            sb.append(pieces.get(rnd.nextInt(pieces.size())));
            if (rnd.nextInt(3) == 0) {
              sb.append(' ');
            }
          }
          break;
        case 1:
          for (int n = 1 + rnd.nextInt(24); n > 0; n--) {
            sb.appendCodePoint(tiny[rnd.nextInt(tiny.length)]);
          }
          break;
        default:
          for (int n = 1 + rnd.nextInt(16); n > 0; n--) {
            int[] from = rnd.nextInt(8) == 0 ? outside : alphabet;
            sb.appendCodePoint(from[rnd.nextInt(from.length)]);
          }
      }
      out.add(sb.toString());
    }
    return out;
  }
}
