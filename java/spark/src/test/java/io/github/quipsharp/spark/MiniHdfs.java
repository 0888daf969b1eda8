package io.github.quipsharp.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * A real HDFS in the test JVM: Hadoop's MiniDFSCluster with one namenode and one datanode on free
 * local ports, its storage under a folder the test owns. Drivers in other JVMs reach it at
 * {@link #uri}.
 */
final class MiniHdfs implements AutoCloseable {
  private final MiniDFSCluster cluster;
  private final FileSystem fs;

  private MiniHdfs(MiniDFSCluster cluster) throws IOException {
    this.cluster = cluster;
    this.fs = cluster.getFileSystem();
  }

  /** Starts the cluster with its name and data folders under {@code base}; waits until it serves. */
  static MiniHdfs start(java.nio.file.Path base) throws IOException {
    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.toAbsolutePath().toString());
    conf.setInt("dfs.replication", 1); // one datanode: no under-replication warnings
    MiniDFSCluster c = new MiniDFSCluster.Builder(conf, base.toAbsolutePath().toFile())
        .numDataNodes(1)
        .build();
    try {
      c.waitActive();
      return new MiniHdfs(c);
    } catch (IOException | RuntimeException e) {
      c.shutdown(true);
      throw e;
    }
  }

  /** {@code hdfs://host:port} followed by the absolute {@code path}. */
  String uri(String path) {
    return fs.getUri() + path;
  }

  FileSystem fs() {
    return fs;
  }

  /** Copies a local file or folder to {@code path} on HDFS; returns its URI. */
  String put(java.nio.file.Path local, String path) throws IOException {
    fs.copyFromLocalFile(false, false, new Path(local.toUri()), new Path(path));
    return uri(path);
  }

  /** Copies a file or folder from HDFS into a new local {@code target}. */
  java.nio.file.Path get(String path, java.nio.file.Path target) throws IOException {
    Files.createDirectories(target.getParent());
    fs.copyToLocalFile(false, new Path(path), new Path(target.toUri()), true);
    return target;
  }

  /** Every file under {@code dir} (hidden ones too), as paths relative to it, sorted. */
  List<String> files(String dir) throws IOException {
    Path root = fs.makeQualified(new Path(dir));
    List<String> out = new ArrayList<>();
    RemoteIterator<LocatedFileStatus> it = fs.listFiles(root, true);
    while (it.hasNext()) {
      String p = it.next().getPath().toUri().getPath();
      out.add(p.substring(root.toUri().getPath().length() + 1));
    }
    out.sort(null);
    return out;
  }

  @Override
  public void close() {
    cluster.shutdown(true);
  }
}
