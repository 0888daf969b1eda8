package io.github.quipsharp.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Local paths for the model and tokenizer files that {@code ModelSource} memory-maps: a file on the
 * local file system is used where it is; one on HDFS or S3 is copied once per JVM (driver or
 * executor) into a cache folder under {@code java.io.tmpdir} and reused by every later task there.
 */
final class LocalCopies {
  private static final Map<String, java.nio.file.Path> COPIES = new HashMap<>();

  private LocalCopies() {}

  static synchronized java.nio.file.Path of(String uri) {
    java.nio.file.Path known = COPIES.get(uri);
    if (known != null) {
      return known;
    }
    Path p = RunFolder.path(uri);
    FileSystem fs = RunFolder.fileSystem(p);
    java.nio.file.Path local;
    if (fs instanceof org.apache.hadoop.fs.RawLocalFileSystem) {
      local = java.nio.file.Path.of(fs.makeQualified(p).toUri());
    } else {
      try {
        String key = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
            .digest(uri.getBytes(StandardCharsets.UTF_8))).substring(0, 16);
        java.nio.file.Path dir = java.nio.file.Path.of(System.getProperty("java.io.tmpdir"),
            "quipsharp-spark-copies", key);
        local = dir.resolve(p.getName());
        if (!Files.exists(dir.resolve(".complete"))) {
          Files.createDirectories(dir);
          fs.copyToLocalFile(false, p, new Path(local.toUri()), true);
          Files.writeString(dir.resolve(".complete"), uri);
        }
      } catch (IOException | java.security.NoSuchAlgorithmException e) {
        throw new UncheckedIOException("copying " + uri + " to local disk: " + e.getMessage(),
            e instanceof IOException io ? io : new IOException(e));
      }
    }
    COPIES.put(uri, local);
    return local;
  }
}
