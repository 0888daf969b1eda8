package io.github.quipsharp.tokenizer;

/**
 * The merge loop shared by both tokenizers: repeatedly replace the adjacent pair of symbols with
 * the best (lowest) rank by its merged token, the leftmost one when several pairs share that rank,
 * until no adjacent pair merges.
 *
 * <p>Done literally, every step rescans all pairs, which is quadratic: a 145 KB text encoded as one
 * string would take minutes. Here the symbols form a doubly linked list over their first positions,
 * and every adjacency that can merge is pushed once, when it forms, into a min-heap keyed by (rank,
 * position of the left symbol). Entries go stale when a neighbour merges; they are recognized on
 * pop by looking the pair at that position up again (lazy invalidation). Because the heap always
 * holds an entry for each live mergeable adjacency, the smallest valid entry is exactly the pair
 * the literal rule picks, and since positions are never renumbered, the smaller position is the
 * leftmost one.
 */
final class PairMerger {
  /** Ranks and merged ids of adjacent token pairs. */
  interface PairTable {
    /** Returned by {@link #find} when the pair does not merge. */
    long NONE = -1L;

    /**
     * The merge of {@code left} followed by {@code right}: {@code (rank << 32) | mergedId} with a
     * non-negative rank (smaller merges first; equal ranks merge leftmost first), or {@link #NONE}.
     */
    long find(int left, int right);
  }

  private PairMerger() {}

  /** Merges a copy of {@code symbols} and returns the remaining token ids in order. */
  static int[] merge(int[] symbols, PairTable table) {
    int n = symbols.length;
    if (n < 2) {
      return symbols.clone();
    }
    int[] token = symbols.clone();
    int[] prev = new int[n];
    int[] next = new int[n];
    for (int i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    LongMinHeap heap = new LongMinHeap(n);
    for (int i = 0; i + 1 < n; i++) {
      push(heap, table, token, i, i + 1);
    }
    int alive = n;
    while (!heap.isEmpty()) {
      long entry = heap.pop();
      int pos = (int) entry;
      int rank = (int) (entry >>> 32);
      // A merged-away symbol is marked with token -1; it can no longer start a pair.
      if (token[pos] < 0 || next[pos] < 0) {
        continue;
      }
      int right = next[pos];
      long found = table.find(token[pos], token[right]);
      if (found == PairTable.NONE || (int) (found >>> 32) != rank) {
        continue; // stale: the pair at this position changed since the entry was pushed
      }
      token[pos] = (int) found;
      token[right] = -1;
      int after = next[right];
      next[pos] = after;
      if (after >= 0) {
        prev[after] = pos;
      }
      alive--;
      if (prev[pos] >= 0) {
        push(heap, table, token, prev[pos], pos);
      }
      if (after >= 0) {
        push(heap, table, token, pos, after);
      }
    }
    // Symbol 0 is never merged away: it can only be the left side of a pair.
    int[] out = new int[alive];
    int k = 0;
    for (int i = 0; i >= 0; i = next[i]) {
      out[k++] = token[i];
    }
    return out;
  }

  private static void push(LongMinHeap heap, PairTable table, int[] token, int left, int right) {
    long found = table.find(token[left], token[right]);
    if (found != PairTable.NONE) {
      heap.push((found & 0xFFFF_FFFF_0000_0000L) | left);
    }
  }
}
