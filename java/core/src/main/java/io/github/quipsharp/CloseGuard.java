package io.github.quipsharp;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * Use-after-close protection for an owner of native memory: calls run under a read lock and fail
 * with {@link IllegalStateException} once closed; {@link #close} takes the write lock, so it waits
 * for calls in flight and frees the memory exactly once.
 */
final class CloseGuard {
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final String owner;
  private boolean closed;

  /** {@code owner} names the object in the exception message, e.g. "QuantizedLinear (64 x 64)". */
  CloseGuard(String owner) {
    this.owner = owner;
  }

  <T> T read(Supplier<T> body) {
    lock.readLock().lock();
    try {
      if (closed) {
        throw new IllegalStateException("this " + owner + " is closed");
      }
      return body.get();
    } finally {
      lock.readLock().unlock();
    }
  }

  boolean isClosed() {
    lock.readLock().lock();
    try {
      return closed;
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Runs {@code free} the first time only. */
  void close(Runnable free) {
    lock.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        free.run();
      }
    } finally {
      lock.writeLock().unlock();
    }
  }
}
