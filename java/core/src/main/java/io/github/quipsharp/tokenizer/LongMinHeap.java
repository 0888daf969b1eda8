package io.github.quipsharp.tokenizer;

import java.util.Arrays;

/**
 * A binary min-heap of primitive longs. The merge loops push hundreds of thousands of candidate
 * pairs for one long input; boxing each one into a {@code PriorityQueue<Long>} would dominate the
 * cost.
 */
final class LongMinHeap {
  private long[] heap;
  private int size;

  LongMinHeap(int initialCapacity) {
    heap = new long[Math.max(16, initialCapacity)];
  }

  boolean isEmpty() {
    return size == 0;
  }

  void push(long value) {
    if (size == heap.length) {
      heap = Arrays.copyOf(heap, heap.length * 2);
    }
    int i = size++;
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (heap[parent] <= value) {
        break;
      }
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = value;
  }

  /** Removes and returns the smallest value; the heap must not be empty. */
  long pop() {
    long top = heap[0];
    long last = heap[--size];
    int i = 0;
    int half = size >>> 1;
    while (i < half) {
      int child = 2 * i + 1;
      if (child + 1 < size && heap[child + 1] < heap[child]) {
        child++;
      }
      if (last <= heap[child]) {
        break;
      }
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
