package io.github.quipsharp.internal;

import io.github.quipsharp.safetensors.TemporaryFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Whole-file writes that never leave a half-written target: temp file, fsync, atomic rename. */
public final class AtomicFiles {
  private AtomicFiles() {}

  /**
   * Writes {@code content} to a locked temporary file next to {@code target}, forces it to disk and
   * renames it onto {@code target}; first removes what killed writes left in that folder
   * ({@link TemporaryFiles#removeStale}).
   */
  public static void write(Path target, byte[] content) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    TemporaryFiles.removeStale(dir);
    try (TemporaryFiles.Created tmp = TemporaryFiles.create(target.toAbsolutePath(), "")) {
      try {
        ByteBuffer b = ByteBuffer.wrap(content);
        while (b.hasRemaining()) {
          tmp.channel().write(b);
        }
        tmp.channel().force(true);
        Files.move(tmp.path(), target, StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp.path());
      }
    }
  }

  public static void copy(Path source, Path target) throws IOException {
    write(target, Files.readAllBytes(source));
  }

  /** Deletes a folder and everything in it (nothing if it does not exist). */
  public static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
