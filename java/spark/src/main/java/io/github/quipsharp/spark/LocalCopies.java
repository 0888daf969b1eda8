package io.github.quipsharp.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * Local paths for the model and tokenizer files that {@code ModelSource} memory-maps: a file on the
 * local file system is used where it is; one on HDFS or S3 is copied into a cache folder under
 * {@code java.io.tmpdir} and reused by every later task and JVM (driver or executor) on that
 * machine while the remote files are unchanged. The folder is named after the URI and the length
 * and modification time of every remote file, so a model replaced at the same URI gets a fresh
 * copy; a copy is made under a temporary name and renamed into place whole, so a JVM killed while
 * copying, or two executors copying at once, never leave or read a partial copy.
 */
final class LocalCopies {
  private static final Map<String, java.nio.file.Path> COPIES = new HashMap<>();

  private LocalCopies() {}

  static synchronized java.nio.file.Path of(String uri) {
    Path p = RunFolder.path(uri);
    FileSystem fs = RunFolder.fileSystem(p);
    if (fs instanceof org.apache.hadoop.fs.RawLocalFileSystem) {
      return java.nio.file.Path.of(fs.makeQualified(p).toUri());
    }
    try {
      java.nio.file.Path dir = folder(fs, p);
      java.nio.file.Path known = COPIES.get(dir.toString());
      if (known != null) {
        return known;
      }
      java.nio.file.Path local = dir.resolve(p.getName());
      if (!Files.exists(dir.resolve(".complete"))) {
        copy(fs, p, dir);
      }
      COPIES.put(dir.toString(), local);
      return local;
    } catch (IOException e) {
      throw new UncheckedIOException("copying " + uri + " to local disk: " + e.getMessage(), e);
    }
  }

  /**
   * The cache folder of {@code p} as it is now: a digest of its URI and of the relative path,
   * length and modification time of each of its files.
   */
  static java.nio.file.Path folder(FileSystem fs, Path p) throws IOException {
    Path root = fs.makeQualified(p);
    List<String> files = new ArrayList<>();
    RemoteIterator<LocatedFileStatus> it = fs.listFiles(root, true);
    while (it.hasNext()) {
      FileStatus f = it.next();
      files.add(f.getPath().toUri().getPath() + "\t" + f.getLen() + "\t" + f.getModificationTime());
    }
    files.sort(null);
    StringBuilder identity = new StringBuilder(root.toString());
    files.forEach(f -> identity.append('\n').append(f));
    try {
      String key = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
          .digest(identity.toString().getBytes(StandardCharsets.UTF_8))).substring(0, 16);
      return java.nio.file.Path.of(System.getProperty("java.io.tmpdir"), "quipsharp-spark-copies", key);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e); // every Java platform has SHA-256
    }
  }

  /** Copies {@code p} into {@code dir}: into a new sibling first, then one rename. */
  private static void copy(FileSystem fs, Path p, java.nio.file.Path dir) throws IOException {
    Files.createDirectories(dir.getParent());
    java.nio.file.Path stage = Files.createTempDirectory(dir.getParent(), dir.getFileName() + ".tmp-");
    try {
      fs.copyToLocalFile(false, p, new Path(stage.resolve(p.getName()).toUri()), true);
      Files.writeString(stage.resolve(".complete"), p.toString());
      try {
        Files.move(stage, dir, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileSystemException e) {
        if (!Files.exists(dir.resolve(".complete"))) {
          throw e;
        } // else another JVM on this machine finished the same copy first: use its copy
      }
    } finally {
      if (Files.exists(stage)) {
        io.github.quipsharp.internal.AtomicFiles.deleteTree(stage);
      }
    }
  }
}
