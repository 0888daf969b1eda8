package io.github.quipsharp.safetensors;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a safetensors file safely: nothing appears at the target until {@link #commit}, which
 * renames a complete, fsync'ed file onto it atomically, replacing any file there. {@link #close}
 * without a commit deletes everything written, so use it in try-with-resources and an exception
 * between {@link #add} calls leaves neither the target nor a temporary file behind:
 *
 * <pre>{@code
 * try (SafetensorsWriter w = SafetensorsWriter.create(target, Map.of("format", "pt"))) {
 *   w.addFloats("norm.weight", DType.F32, new long[] {64}, norm);
 *   w.add("proj.weight", DType.BF16, new long[] {64, 172}, mappedBytes);
 *   w.commit();
 * }
 * }</pre>
 *
 * <p><b>Staging.</b> The header comes first in the file but lists every tensor, so tensors are
 * staged: each {@code add} streams its bytes at once to a staging file {@code
 * <target>.tmp-<random>.data} in the target's folder (heap arrays are converted in 1 MiB chunks, so
 * a tensor is never held twice in memory), and {@code commit} writes {@code <target>.tmp-<random>}
 * as the 8-byte length, the header and the staged data copied by the file system ({@link
 * FileChannel#transferTo}), then forces it to disk, deletes the staging file and renames. This
 * needs free disk space for the data twice while committing.
 *
 * <p><b>Determinism.</b> Tensors are laid out in the header and in the data section sorted by name
 * (then {@link String#compareTo}), metadata keys likewise, the JSON is compact, and the header is
 * padded with spaces to a multiple of 8 bytes (so that the data section, at 8 + header length, is
 * 8-byte aligned). The same tensors and metadata therefore always give a byte-identical file,
 * whatever order they were added in.
 *
 * <p>Bad arguments are {@link IllegalArgumentException}s and leave the writer usable; a failed
 * write ({@link IOException}) leaves it unusable except for {@link #close}. Not thread-safe.
 */
public final class SafetensorsWriter implements AutoCloseable {
  private static final JsonFactory JSON = new JsonFactory();
  private static final int CHUNK = 1 << 20;
  private static final Set<DType> FLOAT_TYPES =
      EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64);
  private static final Set<DType> LONG_TYPES =
      EnumSet.of(
          DType.I64, DType.I32, DType.I16, DType.I8, DType.U32, DType.U16, DType.U8, DType.BOOL);
  private static final Set<DType> SHORT_TYPES = EnumSet.of(DType.I16, DType.F16, DType.BF16);

  private enum State {
    OPEN,
    BROKEN,
    COMMITTED,
    CLOSED
  }

  /** A tensor's place in the staging file and the {@link ContentDigest} of its bytes. */
  private record Staged(DType dtype, long[] shape, long offset, long length, String digest) {}

  private final Path target;
  private final TemporaryFiles.Created stagingFile;
  private final Path staging;
  private final FileChannel stagingChannel;
  private final TreeMap<String, String> metadata;
  private final TreeMap<String, Staged> staged = new TreeMap<>();
  private final ByteBuffer scratch = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
  private final java.util.zip.CRC32C tensorCrc = new java.util.zip.CRC32C();
  private TemporaryFiles.Created outputFile;
  private Path output;
  private long stagedBytes;
  private State state = State.OPEN;

  private SafetensorsWriter(
      Path target, TemporaryFiles.Created stagingFile, TreeMap<String, String> metadata) {
    this.target = target;
    this.stagingFile = stagingFile;
    this.staging = stagingFile.path();
    this.stagingChannel = stagingFile.channel();
    this.metadata = metadata;
  }

  /**
   * Starts writing {@code target} with the given {@code __metadata__} strings ({@code null} or
   * empty for none). Creates the staging file next to {@code target}; the target itself is
   * untouched until {@link #commit}.
   *
   * @throws IllegalArgumentException if {@code target} is a directory or metadata has null entries
   * @throws IOException if the staging file cannot be created (e.g. the folder does not exist)
   */
  public static SafetensorsWriter create(Path target, Map<String, String> metadata)
      throws IOException {
    if (target == null) {
      throw new IllegalArgumentException("target must not be null");
    }
    if (Files.isDirectory(target)) {
      throw new IllegalArgumentException(target + " is a directory");
    }
    TreeMap<String, String> meta = new TreeMap<>();
    if (metadata != null) {
      for (Map.Entry<String, String> e : metadata.entrySet()) {
        if (e.getKey() == null || e.getValue() == null) {
          throw new IllegalArgumentException(
              "metadata must not contain null keys or values: " + e.getKey() + "=" + e.getValue());
        }
        meta.put(e.getKey(), e.getValue());
      }
    }
    Path absolute = target.toAbsolutePath();
    TemporaryFiles.removeStale(absolute.getParent()); // what killed writes left in this folder
    return new SafetensorsWriter(absolute, TemporaryFiles.create(absolute, ".data"), meta);
  }

  /** {@link #create(Path, Map)} without metadata. */
  public static SafetensorsWriter create(Path target) throws IOException {
    return create(target, Map.of());
  }

  /**
   * Adds a tensor whose little-endian bytes are the remaining bytes of {@code data} (its position
   * is left unchanged; its byte order setting is irrelevant, the bytes are copied as they are).
   *
   * @throws IllegalArgumentException on a null, duplicate or reserved name, a negative dimension,
   *     or {@code data.remaining()} other than elementCount × dtype size
   * @throws IOException if staging the bytes fails (the writer is then unusable)
   */
  public void add(String name, DType dtype, long[] shape, ByteBuffer data) throws IOException {
    if (data == null) {
      throw new IllegalArgumentException(name + ": data must not be null");
    }
    long bytes = check(name, dtype, shape);
    if (data.remaining() != bytes) {
      throw new IllegalArgumentException(
          name
              + ": "
              + dtype
              + " "
              + Arrays.toString(shape)
              + " needs "
              + bytes
              + " bytes, but data has "
              + data.remaining());
    }
    long offset = stagedBytes;
    beginWrite();
    ByteBuffer src = data.duplicate();
    // Slices of at most CHUNK: a channel write of a large heap buffer would otherwise allocate a
    // temporary direct buffer as large as the whole tensor.
    while (src.hasRemaining()) {
      ByteBuffer slice = src.slice();
      int n = Math.min(slice.remaining(), CHUNK);
      slice.limit(n);
      writeStaged(slice);
      src.position(src.position() + n);
    }
    endWrite(name, dtype, shape, offset, bytes);
  }

  /** {@link #add} of raw little-endian {@code bytes} of any dtype. */
  public void addBytes(String name, DType dtype, long[] shape, byte[] bytes) throws IOException {
    if (bytes == null) {
      throw new IllegalArgumentException(name + ": bytes must not be null");
    }
    add(name, dtype, shape, ByteBuffer.wrap(bytes));
  }

  /**
   * Adds {@code values} stored as {@code dtype}: F32 as they are, F16 and BF16 rounded to nearest
   * even ({@link HalfFloat}), F64 widened.
   *
   * @throws IllegalArgumentException on a dtype other than those, a bad name or shape, or {@code
   *     values.length} other than the shape's element count
   * @throws IOException if staging fails (the writer is then unusable)
   */
  public void addFloats(String name, DType dtype, long[] shape, float[] values) throws IOException {
    checkKind(name, dtype, FLOAT_TYPES, "addFloats");
    long bytes = check(name, dtype, shape);
    checkLength(name, shape, values == null ? -1 : values.length);
    long offset = stagedBytes;
    beginWrite();
    int per = CHUNK / dtype.byteSize();
    for (int start = 0; start < values.length; start += per) {
      int end = Math.min(values.length, start + per);
      scratch.clear();
      for (int i = start; i < end; i++) {
        switch (dtype) {
          case F32 -> scratch.putFloat(values[i]);
          case F16 -> scratch.putShort(HalfFloat.fromFloat(values[i]));
          case BF16 -> scratch.putShort(HalfFloat.bf16FromFloat(values[i]));
          case F64 -> scratch.putDouble(values[i]);
          default -> throw new AssertionError(dtype);
        }
      }
      scratch.flip();
      writeStaged(scratch);
    }
    endWrite(name, dtype, shape, offset, bytes);
  }

  /**
   * Adds integer {@code values} stored as {@code dtype} (I64, I32, I16, I8, U32, U16, U8 or BOOL).
   * Every value must fit the dtype (0 or 1 for BOOL); this is checked before anything is written.
   *
   * @throws IllegalArgumentException naming the first value out of range, or on a bad dtype, name,
   *     shape or length
   * @throws IOException if staging fails (the writer is then unusable)
   */
  public void addLongs(String name, DType dtype, long[] shape, long[] values) throws IOException {
    checkKind(name, dtype, LONG_TYPES, "addLongs");
    long bytes = check(name, dtype, shape);
    checkLength(name, shape, values == null ? -1 : values.length);
    long min;
    long max;
    switch (dtype) {
      case I64 -> {
        min = Long.MIN_VALUE;
        max = Long.MAX_VALUE;
      }
      case I32 -> {
        min = Integer.MIN_VALUE;
        max = Integer.MAX_VALUE;
      }
      case I16 -> {
        min = Short.MIN_VALUE;
        max = Short.MAX_VALUE;
      }
      case I8 -> {
        min = Byte.MIN_VALUE;
        max = Byte.MAX_VALUE;
      }
      case U32 -> {
        min = 0;
        max = 0xffffffffL;
      }
      case U16 -> {
        min = 0;
        max = 0xffff;
      }
      case U8 -> {
        min = 0;
        max = 0xff;
      }
      case BOOL -> {
        min = 0;
        max = 1;
      }
      default -> throw new AssertionError(dtype);
    }
    for (int i = 0; i < values.length; i++) {
      if (values[i] < min || values[i] > max) {
        throw new IllegalArgumentException(
            name
                + ": values["
                + i
                + "] = "
                + values[i]
                + " does not fit "
                + dtype
                + " ["
                + min
                + ", "
                + max
                + "]");
      }
    }
    long offset = stagedBytes;
    beginWrite();
    int per = CHUNK / dtype.byteSize();
    for (int start = 0; start < values.length; start += per) {
      int end = Math.min(values.length, start + per);
      scratch.clear();
      for (int i = start; i < end; i++) {
        switch (dtype.byteSize()) {
          case 8 -> scratch.putLong(values[i]);
          case 4 -> scratch.putInt((int) values[i]);
          case 2 -> scratch.putShort((short) values[i]);
          default -> scratch.put((byte) values[i]);
        }
      }
      scratch.flip();
      writeStaged(scratch);
    }
    endWrite(name, dtype, shape, offset, bytes);
  }

  /**
   * Adds 16-bit {@code values} as {@code dtype}: I16 values, or raw F16 or BF16 bit patterns.
   *
   * @throws IllegalArgumentException on another dtype, a bad name or shape, or a wrong length
   * @throws IOException if staging fails (the writer is then unusable)
   */
  public void addShorts(String name, DType dtype, long[] shape, short[] values) throws IOException {
    checkKind(name, dtype, SHORT_TYPES, "addShorts");
    long bytes = check(name, dtype, shape);
    checkLength(name, shape, values == null ? -1 : values.length);
    long offset = stagedBytes;
    beginWrite();
    int per = CHUNK / 2;
    for (int start = 0; start < values.length; start += per) {
      int end = Math.min(values.length, start + per);
      scratch.clear();
      scratch.asShortBuffer().put(values, start, end - start);
      scratch.limit((end - start) * 2);
      writeStaged(scratch);
    }
    endWrite(name, dtype, shape, offset, bytes);
  }

  /** True if a tensor called {@code name} has been added. */
  public boolean contains(String name) {
    return staged.containsKey(name);
  }

  /**
   * The {@link ContentDigest} of every tensor added so far, by name (computed while the bytes were
   * staged, so they are the digests of the committed file's tensors).
   */
  public Map<String, String> digests() {
    TreeMap<String, String> d = new TreeMap<>();
    staged.forEach((name, s) -> d.put(name, s.digest()));
    return d;
  }

  /**
   * Writes the file and renames it onto the target atomically, replacing any file there. After a
   * successful commit {@link #close} does nothing; after a failed one the writer is unusable and
   * {@link #close} removes the temporary files.
   *
   * @throws IOException if writing, forcing or renaming fails (the target is then unchanged)
   */
  public void commit() throws IOException {
    requireOpen();
    state = State.BROKEN; // until the rename has succeeded
    byte[] header = header();
    if (header.length > SafetensorsFile.MAX_HEADER_BYTES) {
      throw new IllegalStateException(
          "the header of "
              + staged.size()
              + " tensors is "
              + header.length
              + " bytes, more than readers accept ("
              + SafetensorsFile.MAX_HEADER_BYTES
              + ")");
    }
    outputFile = TemporaryFiles.create(target, "");
    output = outputFile.path();
    try (FileChannel out = outputFile.channel()) {
      ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      length.putLong(0, header.length);
      writeFully(out, length);
      writeFully(out, ByteBuffer.wrap(header));
      for (Staged s : staged.values()) {
        long position = s.offset();
        long remaining = s.length();
        while (remaining > 0) {
          long n = stagingChannel.transferTo(position, remaining, out);
          if (n <= 0) {
            // File-to-file transfers stop short only at the end of the source.
            throw new IOException(
                "staging file " + staging + " ended at " + position + ", expected more data");
          }
          position += n;
          remaining -= n;
        }
      }
      // The data must be on disk before the rename makes it visible under the target's name, or a
      // crash could leave a target of the right length full of zeros.
      out.force(true);
      // Renamed while still locked, so that no cleaner in another process can take it for stale.
      Files.move(output, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      output = null;
    }
    outputFile.close();
    Files.delete(staging);
    stagingFile.close();
    state = State.COMMITTED;
    forceDirectory(target.getParent());
  }

  /**
   * Deletes the temporary files unless {@link #commit} succeeded. Closing twice does nothing.
   *
   * @throws IOException if a temporary file cannot be deleted
   */
  @Override
  public void close() throws IOException {
    if (state == State.COMMITTED || state == State.CLOSED) {
      return;
    }
    state = State.CLOSED;
    IOException failure = null;
    for (Path p : new Path[] {staging, output}) {
      if (p == null) {
        continue;
      }
      try {
        Files.deleteIfExists(p);
      } catch (IOException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    // Deleted while locked, then unlocked.
    for (TemporaryFiles.Created f : new TemporaryFiles.Created[] {stagingFile, outputFile}) {
      if (f == null) {
        continue;
      }
      try {
        f.close();
      } catch (IOException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** The compact JSON header, tensors and metadata sorted by name, space-padded to 8n bytes. */
  private byte[] header() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (JsonGenerator g = JSON.createGenerator(bytes, JsonEncoding.UTF8)) {
      g.writeStartObject();
      if (!metadata.isEmpty()) {
        g.writeObjectFieldStart(SafetensorsFile.METADATA_KEY);
        for (Map.Entry<String, String> e : metadata.entrySet()) {
          g.writeStringField(e.getKey(), e.getValue());
        }
        g.writeEndObject();
      }
      long begin = 0;
      for (Map.Entry<String, Staged> e : staged.entrySet()) {
        Staged s = e.getValue();
        g.writeObjectFieldStart(e.getKey());
        g.writeStringField("dtype", s.dtype().name());
        g.writeArrayFieldStart("shape");
        for (long d : s.shape()) {
          g.writeNumber(d);
        }
        g.writeEndArray();
        g.writeArrayFieldStart("data_offsets");
        g.writeNumber(begin);
        g.writeNumber(begin + s.length());
        g.writeEndArray();
        g.writeEndObject();
        begin += s.length();
      }
      g.writeEndObject();
    }
    int padding = (8 - bytes.size() % 8) % 8;
    for (int i = 0; i < padding; i++) {
      bytes.write(' ');
    }
    return bytes.toByteArray();
  }

  /** Checks name, dtype and shape and returns the tensor's byte count. */
  private long check(String name, DType dtype, long[] shape) {
    requireOpen();
    if (name == null) {
      throw new IllegalArgumentException("name must not be null");
    }
    if (name.equals(SafetensorsFile.METADATA_KEY)) {
      throw new IllegalArgumentException(name + " is reserved for the metadata");
    }
    if (staged.containsKey(name)) {
      throw new IllegalArgumentException(name + ": a tensor of this name was already added");
    }
    if (dtype == null) {
      throw new IllegalArgumentException(name + ": dtype must not be null");
    }
    if (shape == null) {
      throw new IllegalArgumentException(name + ": shape must not be null (a scalar is [])");
    }
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(
            name + ": negative dimension in shape " + Arrays.toString(shape));
      }
    }
    try {
      return Math.multiplyExact(TensorInfo.elementCount(shape), (long) dtype.byteSize());
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          name + ": shape " + Arrays.toString(shape) + " of " + dtype + " overflows 64-bit sizes");
    }
  }

  private static void checkKind(String name, DType dtype, Set<DType> allowed, String method) {
    if (dtype != null && !allowed.contains(dtype)) {
      throw new IllegalArgumentException(
          name + ": " + method + " stores only " + allowed + ", not " + dtype);
    }
  }

  private static void checkLength(String name, long[] shape, int length) {
    if (length < 0) {
      throw new IllegalArgumentException(name + ": values must not be null");
    }
    long count = TensorInfo.elementCount(shape); // shape already checked
    if (length != count) {
      throw new IllegalArgumentException(
          name
              + ": values.length = "
              + length
              + " but shape "
              + Arrays.toString(shape)
              + " has "
              + count
              + " elements");
    }
  }

  private void requireOpen() {
    switch (state) {
      case OPEN -> {}
      case BROKEN ->
          throw new IllegalStateException(
              "an earlier write to " + target + " failed; close this writer");
      case COMMITTED -> throw new IllegalStateException(target + " is already committed");
      case CLOSED -> throw new IllegalStateException("this writer for " + target + " is closed");
    }
  }

  /** Marks the writer broken while bytes go out, so a failure part-way cannot be committed. */
  private void beginWrite() {
    state = State.BROKEN;
    tensorCrc.reset();
  }

  private void endWrite(String name, DType dtype, long[] shape, long offset, long bytes) {
    if (stagedBytes != offset + bytes) {
      throw new AssertionError(name + ": staged " + (stagedBytes - offset) + " of " + bytes);
    }
    staged.put(name, new Staged(dtype, shape.clone(), offset, bytes,
        ContentDigest.hex(tensorCrc.getValue())));
    state = State.OPEN;
  }

  private void writeStaged(ByteBuffer src) throws IOException {
    tensorCrc.update(src.duplicate());
    stagedBytes += writeFully(stagingChannel, src);
  }

  private static int writeFully(FileChannel channel, ByteBuffer src) throws IOException {
    int total = 0;
    while (src.hasRemaining()) {
      total += channel.write(src);
    }
    return total;
  }

  /** Makes the rename durable; not every platform can open a directory, and that is fine. */
  private static void forceDirectory(Path dir) {
    if (dir == null) {
      return;
    }
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException ignored) {
      // The file itself is complete and renamed; only the rename's durability is best-effort.
    }
  }

  @Override
  public String toString() {
    return "SafetensorsWriter(" + target + ", " + staged.size() + " tensors, " + state + ")";
  }
}
