package io.github.quipsharp.safetensors;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * The temporary files of atomic writes ({@code <target>.tmp-<hex>} and its staging file {@code
 * <target>.tmp-<hex>.data}), and the removal of those that a killed writer left behind.
 *
 * <p>A live writer holds an exclusive lock on its temporary file for as long as it exists (the
 * operating system drops the lock when the process dies, {@code kill -9} included) and is listed in
 * this JVM's registry (locks are per process, so a second look from the same JVM must not open the
 * file: closing any channel to a file drops the process's locks on it). A temporary file that is
 * neither listed nor locked, and was not modified in the last second (the moment between its
 * creation and its lock), is stale; {@link #removeStale} deletes it. Every write into a folder calls
 * it first, so a killed write's leftovers (e.g. a 66 MB {@code model.safetensors.tmp-*.data}) are
 * removed by the next write into the same folder.
 */
public final class TemporaryFiles {
  /** Names of temporary files: the target's name, ".tmp-", hex digits, maybe ".data". */
  private static final Pattern NAME = Pattern.compile(".+\\.tmp-[0-9a-f]+(\\.data)?");
  private static final long MIN_AGE_MILLIS = 1000;
  private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();

  private TemporaryFiles() {}

  /** A new temporary file, open for reading and writing, locked; {@link #close} releases it. */
  public static final class Created implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;

    private Created(Path path, FileChannel channel) {
      this.path = path;
      this.channel = channel;
    }

    public Path path() {
      return path;
    }

    public FileChannel channel() {
      return channel;
    }

    /** Closes the channel (dropping the lock) and forgets the file; it is not deleted. */
    @Override
    public void close() throws IOException {
      try {
        channel.close();
      } finally {
        LIVE.remove(path);
      }
    }
  }

  /**
   * Creates {@code <target>.tmp-<random><suffix>} next to {@code target} (a fresh name; with {@code
   * CREATE_NEW}, not {@link Files#createTempFile}, which makes owner-only files that the committed
   * target would keep) and locks it.
   */
  public static Created create(Path target, String suffix) throws IOException {
    for (int attempt = 0; ; attempt++) {
      String random = Long.toHexString(ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE);
      Path p = target.toAbsolutePath().resolveSibling(target.getFileName() + ".tmp-" + random + suffix);
      LIVE.add(p);
      FileChannel channel;
      try {
        channel = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            StandardOpenOption.READ);
      } catch (FileAlreadyExistsException e) {
        LIVE.remove(p);
        if (attempt >= 10) {
          throw e;
        }
        continue;
      } catch (IOException | RuntimeException e) {
        LIVE.remove(p);
        throw e;
      }
      try {
        channel.lock();
      } catch (IOException | RuntimeException e) {
        channel.close();
        Files.deleteIfExists(p);
        LIVE.remove(p);
        throw e;
      }
      return new Created(p, channel);
    }
  }

  /**
   * Deletes the stale temporary files in {@code dir} (see the class comment); nothing when the
   * folder does not exist. Returns how many it deleted. A file it cannot examine is left alone.
   */
  public static int removeStale(Path dir) {
    if (dir == null || !Files.isDirectory(dir)) {
      return 0;
    }
    int removed = 0;
    long now = System.currentTimeMillis();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      for (Path p : entries) {
        Path abs = p.toAbsolutePath();
        if (!NAME.matcher(p.getFileName().toString()).matches() || LIVE.contains(abs)
            || !Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
            || now - Files.getLastModifiedTime(p).toMillis() < MIN_AGE_MILLIS) {
          continue;
        }
        if (deleteIfUnlocked(p)) {
          removed++;
        }
      }
    } catch (IOException | RuntimeException e) {
      // Cleaning up is a courtesy: a folder that cannot be listed fails the write itself later.
    }
    return removed;
  }

  private static boolean deleteIfUnlocked(Path p) {
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      FileLock lock;
      try {
        lock = ch.tryLock();
      } catch (OverlappingFileLockException e) {
        return false; // held in this JVM
      }
      if (lock == null) {
        return false; // held by a live process
      }
      Files.delete(p);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
