package io.github.quipsharp.pipeline;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import io.github.quipsharp.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A {@link HessianStore} in a local folder, and the one Hessian file format: an F64 safetensors
 * file with the token count in its metadata ({@code tokens}) and Σ x xᵀ as tensor {@code sum}
 * [n, n], or, when that exceeds {@link #BLOCK_BYTES} (n > 11585, e.g. a 28672-wide down_proj,
 * 6.6 GB), as row blocks {@code sum.0}, {@code sum.1}, ... of at most that size in row order.
 * {@link SafetensorsWriter} stages the file and renames it into place on commit: an interrupted
 * write leaves no file under the target name.
 */
public final class LocalHessianStore implements HessianStore {
  /** Largest tensor of a Hessian file: one Java buffer holds at most 2 GiB. */
  public static final long BLOCK_BYTES = 1L << 30;

  private final Path folder;

  public LocalHessianStore(Path folder) {
    this.folder = folder;
  }

  /** The file of one group's Hessian. */
  public Path file(int layer, LinearGroup group) {
    return folder.resolve(HessianStore.fileName(layer, group));
  }

  @Override
  public boolean contains(int layer, LinearGroup group) {
    return Files.exists(file(layer, group));
  }

  @Override
  public void write(int layer, LinearGroup group, HessianSum hessian) throws IOException {
    writeFile(file(layer, group), hessian);
  }

  @Override
  public HessianSum read(int layer, LinearGroup group) {
    return readFile(file(layer, group));
  }

  /** Writes a Hessian file (the format above), creating the folder. */
  public static void writeFile(Path file, HessianSum h) throws IOException {
    writeFile(file, h, BLOCK_BYTES);
  }

  static void writeFile(Path file, HessianSum h, long blockBytes) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    int n = h.n();
    long rowBytes = 8L * n;
    int rowsPerBlock = (int) Math.max(1, Math.min(n, blockBytes / rowBytes));
    try (SafetensorsWriter w = SafetensorsWriter.create(file,
        Map.of("tokens", Long.toString(h.tokens())))) {
      for (int r0 = 0, k = 0; r0 < n; r0 += rowsPerBlock, k++) {
        int rows = Math.min(rowsPerBlock, n - r0);
        ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(rows * rowBytes))
            .order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(h.sum(), r0 * n, rows * n);
        w.add(rowsPerBlock == n ? "sum" : "sum." + k, DType.F64, new long[] {rows, n}, b);
      }
      w.commit();
    }
  }

  /**
   * Reads a Hessian file.
   *
   * @throws ModelFormatException naming the file when it is missing, truncated, corrupt or holds
   *     no Hessian
   */
  public static HessianSum readFile(Path file) {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      long tokens = tokens(f, file);
      if (f.contains("sum")) {
        int n = width(f.info("sum"), file);
        double[] sum = new double[square(n, file)];
        f.requireShape("sum", DType.F64, n, n);
        f.map("sum").order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(sum);
        return new HessianSum(n, sum, tokens);
      }
      if (!f.contains("sum.0")) {
        throw new ModelFormatException(file, "holds neither \"sum\" nor \"sum.0\": not a Hessian file");
      }
      int n = width(f.info("sum.0"), file);
      double[] sum = new double[square(n, file)];
      int r0 = 0;
      for (int k = 0; r0 < n; k++) {
        String name = "sum." + k;
        if (!f.contains(name)) {
          throw new ModelFormatException(file, "row blocks end at row " + r0 + " of " + n);
        }
        if (f.info(name).shape().length != 2) {
          throw new ModelFormatException(file, name + " is not a matrix");
        }
        int rows = Math.toIntExact(f.info(name).dim(0));
        f.requireShape(name, DType.F64, rows, n);
        if (r0 + rows > n) {
          throw new ModelFormatException(file, name + " runs past row " + n);
        }
        f.map(name).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(sum, r0 * n, rows * n);
        r0 += rows;
      }
      return new HessianSum(n, sum, tokens);
    }
  }

  private static long tokens(SafetensorsFile f, Path file) {
    String t = f.metadata().get("tokens");
    try {
      long tokens = t == null ? -1 : Long.parseLong(t);
      if (tokens < 0) {
        throw new NumberFormatException();
      }
      return tokens;
    } catch (NumberFormatException e) {
      throw new ModelFormatException(file, "has no token count (metadata \"tokens\" is "
          + (t == null ? "missing" : "\"" + t + "\"") + "): not a Hessian file");
    }
  }

  private static int width(TensorInfo t, Path file) {
    if (t.shape().length != 2 || t.dim(1) < 1 || t.dim(1) > Integer.MAX_VALUE) {
      throw new ModelFormatException(file, t.name() + " is not a Hessian matrix (shape "
          + java.util.Arrays.toString(t.shape()) + ")");
    }
    return (int) t.dim(1);
  }

  private static int square(int n, Path file) {
    long len = (long) n * n;
    if (len > Integer.MAX_VALUE - 8) {
      throw new ModelFormatException(file, "a " + n + " x " + n + " Hessian does not fit one Java array");
    }
    return (int) len;
  }
}
