package io.github.quipsharp.finetune;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Hidden states of calibration windows on disk: {@code windows × ctx × dim} fp32 values in one
 * file, memory-mapped (in chunks of whole windows under 1 GiB), so that blockwise tuning's inputs
 * and targets and end-to-end tuning's teacher states are read batch by batch and never held in
 * the heap; the operating system keeps in memory what fits.
 */
final class ActivationFile implements AutoCloseable {
  private static final long CHUNK_BYTES = 1L << 30;

  private final Path path;
  private final int windows;
  private final int ctx;
  private final int dim;
  private final int windowsPerChunk;
  private final List<MappedByteBuffer> chunks = new ArrayList<>();

  private ActivationFile(Path path, int windows, int ctx, int dim, boolean write) throws IOException {
    this.path = path;
    this.windows = windows;
    this.ctx = ctx;
    this.dim = dim;
    long windowBytes = 4L * ctx * dim;
    if (windowBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("one window of " + ctx + " x " + dim
          + " fp32 values does not fit a mapped buffer");
    }
    this.windowsPerChunk = (int) Math.max(1, CHUNK_BYTES / windowBytes);
    long size = windowBytes * windows;
    try (FileChannel ch = write
        ? FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)
        : FileChannel.open(path, StandardOpenOption.READ)) {
      if (!write && ch.size() != size) {
        throw new IllegalStateException(path + " holds " + ch.size() + " bytes, not " + size);
      }
      for (int first = 0; first < windows; first += windowsPerChunk) {
        int n = Math.min(windowsPerChunk, windows - first);
        MappedByteBuffer b = ch.map(write ? FileChannel.MapMode.READ_WRITE : FileChannel.MapMode.READ_ONLY,
            first * windowBytes, n * windowBytes);
        b.order(ByteOrder.LITTLE_ENDIAN);
        chunks.add(b);
      }
    }
  }

  /** A new file (replacing any) for this many windows. */
  static ActivationFile create(Path path, int windows, int ctx, int dim) {
    try {
      Files.createDirectories(path.toAbsolutePath().getParent());
      return new ActivationFile(path, windows, ctx, dim, true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + path + ": " + e.getMessage(), e);
    }
  }

  /** An existing, complete file, read only. */
  static ActivationFile open(Path path, int windows, int ctx, int dim) {
    try {
      return new ActivationFile(path, windows, ctx, dim, false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
    }
  }

  Path path() {
    return path;
  }

  int windows() {
    return windows;
  }

  private FloatBuffer window(int w) {
    if (w < 0 || w >= windows) {
      throw new IndexOutOfBoundsException("window " + w + " of " + windows);
    }
    MappedByteBuffer chunk = chunks.get(w / windowsPerChunk);
    int floats = ctx * dim;
    return chunk.asFloatBuffer().slice((w % windowsPerChunk) * floats, floats);
  }

  /** Stores {@code states} ([n, ctx, dim], any float type) as windows {@code first…first+n-1}. */
  void write(int first, Tensor states) {
    float[] v = Torch.floats(states);
    int floats = ctx * dim;
    if (v.length % floats != 0) {
      throw new IllegalArgumentException(v.length + " values are not whole windows of " + floats);
    }
    for (int i = 0; i < v.length / floats; i++) {
      window(first + i).put(v, i * floats, floats);
    }
  }

  /**
   * Windows {@code which} as a fp32 [B, ctx, dim] tensor on the current device, owned by the
   * innermost open pointer scope.
   */
  Tensor read(int[] which) {
    Tensor out;
    try (PointerScope scope = new PointerScope()) {
      Tensor[] parts = new Tensor[which.length];
      for (int i = 0; i < which.length; i++) {
        // The mapped pages reach libtorch without a heap copy.
        FloatPointer p = new FloatPointer(window(which[i]));
        parts[i] = torch.from_blob(p, new long[] {1, ctx, dim}, Torch.options(ScalarType.Float));
      }
      out = torch.cat(new TensorVector(parts), 0).clone();
      out.retainReference();
    }
    return Torch.toScope(Torch.onDevice(out));
  }

  /** Writes the mapped pages to the disk (before the file is declared complete). */
  void force() {
    for (MappedByteBuffer b : chunks) {
      b.force();
    }
  }

  @Override
  public void close() {
    chunks.clear(); // the mappings go when collected; the file may be deleted before that
  }
}
