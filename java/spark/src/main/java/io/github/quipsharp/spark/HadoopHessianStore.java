package io.github.quipsharp.spark;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.QuipsharpException;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.pipeline.HessianStore;
import io.github.quipsharp.pipeline.LocalHessianStore;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import org.apache.hadoop.fs.Path;

/**
 * A {@link HessianStore} in a folder of any Hadoop file system, in the one Hessian file format of
 * {@link LocalHessianStore}. On the local file system the files are written and read where they
 * are, exactly as the single-machine run does; elsewhere a file is written locally by the same
 * writer, then copied under a temporary name and renamed into place ({@link RunFolder#upload}), and
 * read from a local copy.
 */
final class HadoopHessianStore implements HessianStore, Serializable {
  private static final long serialVersionUID = 1L;

  private final RunFolder run;
  private final String folder;

  /** The store in {@code folder}, a folder of {@code run}. */
  HadoopHessianStore(RunFolder run, Path folder) {
    this.run = run;
    this.folder = folder.toString();
  }

  Path file(int layer, LinearGroup group) {
    return new Path(new Path(folder), HessianStore.fileName(layer, group));
  }

  @Override
  public boolean contains(int layer, LinearGroup group) {
    return run.exists(file(layer, group));
  }

  @Override
  public void write(int layer, LinearGroup group, HessianSum hessian) throws IOException {
    Path target = file(layer, group);
    if (run.isLocal()) {
      LocalHessianStore.writeFile(run.local(target), hessian);
      return;
    }
    java.nio.file.Path dir = Files.createTempDirectory("quipsharp-hessian-");
    try {
      java.nio.file.Path local = dir.resolve(target.getName());
      LocalHessianStore.writeFile(local, hessian);
      run.upload(local, target);
    } finally {
      AtomicFiles.deleteTree(dir);
    }
  }

  @Override
  public HessianSum read(int layer, LinearGroup group) {
    Path file = file(layer, group);
    if (run.isLocal()) {
      return LocalHessianStore.readFile(run.local(file));
    }
    java.nio.file.Path dir = null;
    try {
      dir = Files.createTempDirectory("quipsharp-hessian-");
      java.nio.file.Path local = dir.resolve(file.getName());
      if (!run.exists(file)) {
        throw new QuipsharpException(file + ": no such Hessian file");
      }
      run.fs().copyToLocalFile(false, file, new Path(local.toUri()), true);
      try {
        return LocalHessianStore.readFile(local);
      } catch (ModelFormatException e) { // name the file where it lives, not the local copy
        throw new QuipsharpException(e.getMessage().replace(local.toString(), file.toString()), e);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("reading the Hessian " + file + ": " + e.getMessage(), e);
    } finally {
      if (dir != null) {
        try {
          AtomicFiles.deleteTree(dir);
        } catch (IOException ignored) {
          // a temporary copy: the OS cleans java.io.tmpdir
        }
      }
    }
  }
}
