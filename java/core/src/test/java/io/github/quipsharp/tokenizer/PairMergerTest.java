package io.github.quipsharp.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The heap-based merge loop against the literal rule on random merge tables (no data files). */
class PairMergerTest {
  /** The literal rule: rescan all pairs, take the lowest rank, leftmost on ties, merge, repeat. */
  static int[] naive(int[] symbols, PairMerger.PairTable table) {
    List<Integer> t = new ArrayList<>();
    for (int s : symbols) {
      t.add(s);
    }
    while (true) {
      long best = Long.MAX_VALUE;
      int bestIdx = -1;
      int bestId = -1;
      for (int i = 0; i + 1 < t.size(); i++) {
        long found = table.find(t.get(i), t.get(i + 1));
        if (found != PairMerger.PairTable.NONE && (found >>> 32) < best) {
          best = found >>> 32;
          bestIdx = i;
          bestId = (int) found;
        }
      }
      if (bestIdx < 0) {
        break;
      }
      t.set(bestIdx, bestId);
      t.remove(bestIdx + 1);
    }
    return t.stream().mapToInt(Integer::intValue).toArray();
  }

  @Test
  void matchesTheLiteralRuleOnRandomTables() {
    Random rnd = new Random(7);
    for (int trial = 0; trial < 300; trial++) {
      int alphabet = 2 + rnd.nextInt(4);
      Map<Long, Long> merges = new HashMap<>();
      int nextId = alphabet;
      int pairs = 1 + rnd.nextInt(40);
      // Few distinct ranks, so different pairs often tie and the leftmost rule matters.
      int ranks = 1 + rnd.nextInt(6);
      for (int p = 0; p < pairs; p++) {
        int a = rnd.nextInt(nextId);
        int b = rnd.nextInt(nextId);
        long key = ((long) a << 32) | b;
        if (!merges.containsKey(key)) {
          merges.put(key, ((long) rnd.nextInt(ranks) << 32) | nextId++);
        }
      }
      PairMerger.PairTable table =
          (l, r) -> merges.getOrDefault(((long) l << 32) | r, PairMerger.PairTable.NONE);
      for (int k = 0; k < 30; k++) {
        int[] symbols = new int[rnd.nextInt(40)];
        for (int i = 0; i < symbols.length; i++) {
          symbols[i] = rnd.nextInt(alphabet);
        }
        assertArrayEquals(
            naive(symbols, table), PairMerger.merge(symbols, table), "trial " + trial);
      }
    }
  }

  @Test
  void repeatedPairMergesLeftmostFirst() {
    // a a a with "a a" -> b: the left pair merges first, leaving b a.
    PairMerger.PairTable table = (l, r) -> l == 0 && r == 0 ? 1L : PairMerger.PairTable.NONE;
    assertArrayEquals(new int[] {1, 0}, PairMerger.merge(new int[] {0, 0, 0}, table));
    assertArrayEquals(new int[] {1, 1}, PairMerger.merge(new int[] {0, 0, 0, 0}, table));
  }
}
