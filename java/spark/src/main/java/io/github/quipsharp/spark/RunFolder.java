package io.github.quipsharp.spark;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.pipeline.RunLayout;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import scala.Tuple2;

/**
 * The output folder of a scale-out run on any Hadoop file system ({@code file://}, {@code hdfs://},
 * {@code s3a://}), with the single-machine run's layout ({@link RunLayout}) under {@code .partial}:
 * {@code run.json}, {@code hessians/} (a {@link HadoopHessianStore} in the one Hessian format),
 * {@code layers/{l}_{g}.safetensors} (the shards), and for the distributed Hessians
 * {@code scratch/{l}/block-{b}/} (one block of windows' sums, HessianBlocks, in the same format,
 * deleted once summed). Every file is written under a temporary name and renamed into place, so a reader sees
 * whole files only; a duplicate task that finds the target present drops its copy (it holds the
 * same bytes).
 */
final class RunFolder implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String out;
  private transient FileSystem fs;

  RunFolder(String out) {
    this.out = path(out).toString();
  }

  /** The folder as given (a URI or a local path). */
  String uri() {
    return out;
  }

  Path root() {
    return new Path(out);
  }

  /** Whether the folder is on the local file system (then a plain path names it). */
  boolean isLocal() {
    return fs() instanceof org.apache.hadoop.fs.RawLocalFileSystem;
  }

  /** The local path of a folder on the local file system. */
  java.nio.file.Path localPath() {
    return local(root());
  }

  /** The local path of a file or folder of this run on the local file system. */
  java.nio.file.Path local(Path p) {
    return java.nio.file.Path.of(fs().makeQualified(p).toUri());
  }

  /** The file system; a local one without checksum side files. */
  FileSystem fs() {
    if (fs == null) {
      fs = fileSystem(root());
    }
    return fs;
  }

  static FileSystem fileSystem(Path p) {
    try {
      FileSystem f = p.getFileSystem(hadoopConfiguration());
      return f instanceof LocalFileSystem l ? l.getRawFileSystem() : f;
    } catch (IOException e) {
      throw new UncheckedIOException(p + ": " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      // HDFS reports a name node host that does not resolve as IllegalArgumentException
      // (java.net.UnknownHostException: host), thrown while the client is made.
      throw new UncheckedIOException(unreachable(e), new IOException(e));
    }
  }

  /** Why a file system cannot be reached, in words (the unknown host, else the message). */
  private static String unreachable(IllegalArgumentException e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof java.net.UnknownHostException u) {
        return "unknown host " + u.getMessage();
      }
    }
    String m = e.getMessage();
    java.util.regex.Matcher h = java.util.regex.Pattern
        .compile("java\\.net\\.UnknownHostException: (\\S+)").matcher(m == null ? "" : m);
    return h.find() ? "unknown host " + h.group(1) : String.valueOf(m);
  }

  /**
   * Hadoop's settings as Spark gives them to its own jobs: the *-site.xml files on the class path,
   * then every {@code spark.hadoop.*} property (spark-submit --conf, spark-defaults.conf) without
   * its prefix: the HDFS nameservices, S3 endpoints and credentials a cluster is configured with.
   * On an executor the application's SparkConf; on the driver, before its context starts, the
   * system properties spark-submit set.
   */
  static Configuration hadoopConfiguration() {
    Configuration c = new Configuration();
    SparkEnv env = SparkEnv.get();
    SparkConf spark = env != null ? env.conf() : new SparkConf();
    for (Tuple2<String, String> e : spark.getAllWithPrefix("spark.hadoop.")) {
      c.set(e._1(), e._2());
    }
    return c;
  }

  Path partial() {
    return new Path(root(), RunLayout.PARTIAL);
  }

  Path runFile() {
    return new Path(partial(), RunLayout.RUN_FILE);
  }

  Path shard(int layer, LinearGroup g) {
    return new Path(new Path(partial(), RunLayout.LAYERS), RunLayout.shardName(layer, g));
  }

  /** The run's summed Hessians. */
  HadoopHessianStore hessians() {
    return new HadoopHessianStore(this, new Path(partial(), RunLayout.HESSIANS));
  }

  /** The scratch folder of one layer's partial sums. */
  Path scratch(int layer) {
    return new Path(new Path(partial(), "scratch"), Integer.toString(layer));
  }

  /** The Hessian sums of one block of windows (HessianBlocks) at one layer. */
  HadoopHessianStore partialSums(int layer, int block) {
    return new HadoopHessianStore(this, new Path(scratch(layer), "block-" + block));
  }

  boolean exists(Path p) {
    try {
      return fs().exists(p);
    } catch (IOException e) {
      throw new UncheckedIOException(p + ": " + e.getMessage(), e);
    }
  }

  /** Writes {@code target} through a temporary name and a rename. */
  void write(Path target, Writer content) throws IOException {
    Path tmp = new Path(target.getParent(), "." + target.getName() + ".tmp-" + UUID.randomUUID());
    try {
      try (FSDataOutputStream o = fs().create(tmp, true)) {
        content.write(o);
      }
      if (!fs().rename(tmp, target) && !fs().exists(target)) {
        throw new IOException("cannot rename " + tmp + " to " + target);
      }
    } finally {
      if (fs().exists(tmp)) {
        fs().delete(tmp, false);
      }
    }
  }

  void write(Path target, byte[] content) throws IOException {
    write(target, o -> o.write(content));
  }

  /** Copies a local file into place (temporary name, then rename). */
  void upload(java.nio.file.Path local, Path target) throws IOException {
    write(target, o -> java.nio.file.Files.copy(local, o));
  }

  byte[] read(Path p) throws IOException {
    try (InputStream in = fs().open(p)) {
      return in.readAllBytes();
    }
  }

  void delete(Path p) throws IOException {
    if (fs().exists(p)) {
      fs().delete(p, true);
    }
  }

  /** Writes the content of one file. */
  interface Writer {
    void write(OutputStream o) throws IOException;
  }

  /** A URI or local path as a Hadoop path, local paths made absolute. */
  static Path path(String s) {
    URI u = URI.create(s.replace(" ", "%20"));
    if (u.getScheme() == null) {
      return new Path(java.nio.file.Path.of(s).toAbsolutePath().normalize().toUri());
    }
    return new Path(s);
  }
}
