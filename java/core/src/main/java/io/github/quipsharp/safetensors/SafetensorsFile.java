package io.github.quipsharp.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import io.github.quipsharp.ModelFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A safetensors file opened for reading: the header is read and checked in full by {@link #open},
 * before any tensor data is touched, and tensors are then memory-mapped one at a time by {@link
 * #map}.
 *
 * <p>The format: an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON (an object
 * from tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}}, with an optional
 * {@code "__metadata__"} object of strings), then the data section; {@code data_offsets} count from
 * the start of the data section, 8 + N. {@link TensorInfo#begin()} and {@link TensorInfo#end()} are
 * absolute file offsets instead.
 *
 * <p>Every problem with the file is a {@link ModelFormatException} whose message names the file,
 * the tensor where there is one, and the numbers that disagree. Reads may run concurrently from
 * several threads. {@link #metadata}, {@link #tensors} and {@link #info} keep working after {@link
 * #close}; mapping and reading do not. Buffers already returned by {@link #map} stay valid after
 * close (the mapping is released when the buffer is garbage-collected).
 */
public final class SafetensorsFile implements AutoCloseable {
  /**
   * Headers beyond this are refused without being read, so a corrupt length cannot exhaust memory.
   */
  public static final long MAX_HEADER_BYTES = 100L << 20;

  static final String METADATA_KEY = "__metadata__";

  private static final ObjectMapper JSON =
      new ObjectMapper(
              JsonFactory.builder()
                  // Jackson's default caps strings at 20M chars; any string that fits in an
                  // accepted header is legal here.
                  .streamReadConstraints(
                      StreamReadConstraints.builder()
                          .maxStringLength((int) MAX_HEADER_BYTES)
                          .build())
                  .build())
          // A repeated tensor name would make the file ambiguous; refuse it.
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          // Anything but padding after the object means the length or the header is wrong.
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private static final Set<DType> LONG_TYPES =
      EnumSet.of(DType.I64, DType.I32, DType.I16, DType.I8, DType.U32, DType.U16, DType.U8);
  private static final Set<DType> SHORT_TYPES = EnumSet.of(DType.I16, DType.F16, DType.BF16);

  private final Path path;
  private final FileChannel channel;
  private final long headerLength;
  private final ImmutableMap<String, String> metadata;
  private final ImmutableList<TensorInfo> tensors;
  private final ImmutableMap<String, TensorInfo> byName;
  private volatile boolean closed;

  private SafetensorsFile(
      Path path,
      FileChannel channel,
      long headerLength,
      ImmutableMap<String, String> metadata,
      ImmutableList<TensorInfo> tensors) {
    this.path = path;
    this.channel = channel;
    this.headerLength = headerLength;
    this.metadata = metadata;
    this.tensors = tensors;
    this.byName = tensors.stream().collect(ImmutableMap.toImmutableMap(TensorInfo::name, t -> t));
  }

  /**
   * Opens {@code file} and checks its header: length field, JSON, every tensor's dtype, shape and
   * offsets against the data section, and that no two tensors overlap.
   *
   * @throws ModelFormatException if the file is missing, unreadable or not a valid safetensors file
   */
  public static SafetensorsFile open(Path file) {
    if (file == null) {
      throw new IllegalArgumentException("file must not be null");
    }
    if (Files.isDirectory(file)) {
      throw new ModelFormatException(file, "is a directory, not a safetensors file");
    }
    String notRegular = io.github.quipsharp.internal.RegularFiles.whyNot(file);
    if (notRegular != null && Files.exists(file)) {
      throw new ModelFormatException(file, notRegular); // opening a FIFO would block
    }
    FileChannel channel;
    try {
      channel = FileChannel.open(file, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new ModelFormatException(file, "no such file", e);
    } catch (IOException e) {
      throw new ModelFormatException(file, "cannot open: " + e, e);
    }
    try {
      SafetensorsFile opened = readHeader(file, channel);
      channel = null; // now owned by the result
      return opened;
    } catch (IOException e) {
      throw new ModelFormatException(file, "cannot read the header: " + e, e);
    } finally {
      if (channel != null) {
        closeQuietly(channel);
      }
    }
  }

  private static SafetensorsFile readHeader(Path file, FileChannel channel) throws IOException {
    long size = channel.size();
    if (size < 8) {
      throw new ModelFormatException(
          file,
          "file is "
              + size
              + " bytes, shorter than the 8-byte header length field; not a safetensors file");
    }
    ByteBuffer lengthField = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(channel, lengthField, 0);
    long n = lengthField.getLong(0); // unsigned: compared with compareUnsigned below
    if (Long.compareUnsigned(n, MAX_HEADER_BYTES) > 0) {
      throw new ModelFormatException(
          file,
          "header length "
              + Long.toUnsignedString(n)
              + " bytes exceeds the limit of "
              + MAX_HEADER_BYTES
              + " bytes (100 MiB); not a safetensors file, or corrupt");
    }
    if (n > size - 8) {
      throw new ModelFormatException(
          file,
          "header length "
              + n
              + " bytes exceeds the "
              + (size - 8)
              + " bytes after the length field; the file is truncated or not a safetensors file");
    }
    ByteBuffer headerBytes = ByteBuffer.allocate((int) n);
    readFully(channel, headerBytes, 8);
    headerBytes.flip();
    String text;
    try {
      // Strict decoding: a lenient one would silently turn bad bytes into U+FFFD in names.
      CharBuffer chars =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(headerBytes);
      text = chars.toString();
    } catch (CharacterCodingException e) {
      throw new ModelFormatException(file, "header (" + n + " bytes) is not valid UTF-8", e);
    }
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new ModelFormatException(
          file, "header (" + n + " bytes) is not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new ModelFormatException(
          file,
          "header must be a JSON object of tensors, but is "
              + (root == null || root.isMissingNode() ? "empty" : root.getNodeType()));
    }
    long dataStart = 8 + n;
    long dataLength = size - dataStart;
    ImmutableMap<String, String> metadata = ImmutableMap.of();
    List<TensorInfo> tensors = new ArrayList<>();
    Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      if (field.getKey().equals(METADATA_KEY)) {
        metadata = parseMetadata(file, field.getValue());
      } else {
        tensors.add(parseTensor(file, field.getKey(), field.getValue(), dataStart, dataLength));
      }
    }
    checkNoOverlap(file, tensors, dataStart);
    return new SafetensorsFile(file, channel, n, metadata, ImmutableList.copyOf(tensors));
  }

  private static ImmutableMap<String, String> parseMetadata(Path file, JsonNode node) {
    if (!node.isObject()) {
      throw new ModelFormatException(
          file, METADATA_KEY + " must be an object of strings, but is " + node.getNodeType());
    }
    ImmutableMap.Builder<String, String> b = ImmutableMap.builder();
    Iterator<Map.Entry<String, JsonNode>> it = node.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().isTextual()) {
        throw new ModelFormatException(
            file,
            METADATA_KEY
                + " entry \""
                + e.getKey()
                + "\" must be a string, but is "
                + e.getValue().getNodeType());
      }
      b.put(e.getKey(), e.getValue().textValue());
    }
    return b.buildOrThrow();
  }

  private static TensorInfo parseTensor(
      Path file, String name, JsonNode node, long dataStart, long dataLength) {
    String where = "tensor " + name + ": ";
    if (!node.isObject()) {
      throw new ModelFormatException(
          file, where + "entry must be an object, but is " + node.getNodeType());
    }
    JsonNode dtypeNode = node.get("dtype");
    if (dtypeNode == null || !dtypeNode.isTextual()) {
      throw new ModelFormatException(file, where + "missing or non-string \"dtype\"");
    }
    DType dtype;
    try {
      dtype = DType.parse(dtypeNode.textValue());
    } catch (IllegalArgumentException e) {
      throw new ModelFormatException(file, where + e.getMessage());
    }
    long[] shape = longArray(file, where, node.get("shape"), "shape", -1);
    for (long d : shape) {
      if (d < 0) {
        throw new ModelFormatException(
            file, where + "negative dimension in shape " + Arrays.toString(shape));
      }
    }
    long[] offsets = longArray(file, where, node.get("data_offsets"), "data_offsets", 2);
    long begin = offsets[0];
    long end = offsets[1];
    String offsetText = "data_offsets [" + begin + ", " + end + "]";
    if (begin < 0 || end < begin) {
      throw new ModelFormatException(
          file, where + offsetText + " must satisfy 0 <= begin <= end; the file is corrupt");
    }
    if (end > dataLength) {
      throw new ModelFormatException(
          file,
          where
              + offsetText
              + " end beyond the data section ("
              + dataLength
              + " bytes); the file is truncated or corrupt");
    }
    long bytes;
    try {
      bytes = Math.multiplyExact(TensorInfo.elementCount(shape), (long) dtype.byteSize());
    } catch (ArithmeticException e) {
      throw new ModelFormatException(
          file,
          where + "shape " + Arrays.toString(shape) + " of " + dtype + " overflows 64-bit sizes");
    }
    if (end - begin != bytes) {
      throw new ModelFormatException(
          file,
          where
              + dtype
              + " "
              + Arrays.toString(shape)
              + " needs "
              + bytes
              + " bytes, but "
              + offsetText
              + " span "
              + (end - begin)
              + " bytes");
    }
    return new TensorInfo(name, dtype, shape, dataStart + begin, dataStart + end);
  }

  /**
   * The JSON array {@code node} of integers as longs; {@code length} of -1 allows any length.
   * Refuses fractions, exponents and values beyond a long, any of which means a corrupt header.
   */
  private static long[] longArray(Path file, String where, JsonNode node, String key, int length) {
    if (node == null || !node.isArray()) {
      throw new ModelFormatException(
          file,
          where
              + "\""
              + key
              + "\" must be an array of integers, but is "
              + (node == null ? "missing" : node.getNodeType()));
    }
    if (length >= 0 && node.size() != length) {
      throw new ModelFormatException(
          file, where + "\"" + key + "\" must have " + length + " entries, but is " + node);
    }
    long[] out = new long[node.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode v = node.get(i);
      if (!v.isIntegralNumber() || !v.canConvertToLong()) {
        throw new ModelFormatException(
            file,
            where
                + "\""
                + key
                + "\" entry "
                + v
                + " is not an integer in the 64-bit range: "
                + node);
      }
      out[i] = v.longValue();
    }
    return out;
  }

  private static void checkNoOverlap(Path file, List<TensorInfo> tensors, long dataStart) {
    // Empty tensors occupy no bytes, so they cannot overlap anything wherever they point.
    List<TensorInfo> sorted =
        tensors.stream()
            .filter(t -> t.byteSize() > 0)
            .sorted(Comparator.comparingLong(TensorInfo::begin))
            .collect(Collectors.toList());
    for (int i = 1; i < sorted.size(); i++) {
      TensorInfo a = sorted.get(i - 1);
      TensorInfo b = sorted.get(i);
      if (b.begin() < a.end()) {
        throw new ModelFormatException(
            file,
            "tensors "
                + a.name()
                + " (data_offsets ["
                + (a.begin() - dataStart)
                + ", "
                + (a.end() - dataStart)
                + "]) and "
                + b.name()
                + " (data_offsets ["
                + (b.begin() - dataStart)
                + ", "
                + (b.end() - dataStart)
                + "]) overlap; the file is corrupt");
      }
    }
  }

  private static void readFully(FileChannel channel, ByteBuffer dst, long position)
      throws IOException {
    while (dst.hasRemaining()) {
      int got = channel.read(dst, position);
      if (got < 0) {
        throw new IOException("unexpected end of file at offset " + position);
      }
      position += got;
    }
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException ignored) {
      // Opening already failed; that error is the one to report.
    }
  }

  /** The file this was opened from. */
  public Path path() {
    return path;
  }

  /** The header length N; the data section starts at 8 + N. */
  public long headerLength() {
    return headerLength;
  }

  /** The {@code __metadata__} strings, in file order; empty when the header has none. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** All tensors, in header order. */
  public List<TensorInfo> tensors() {
    return tensors;
  }

  /** True if the file has a tensor called {@code name}. */
  public boolean contains(String name) {
    return byName.containsKey(name);
  }

  /**
   * The tensor called {@code name}.
   *
   * @throws ModelFormatException naming the file and the tensor when there is none
   */
  public TensorInfo info(String name) {
    TensorInfo t = byName.get(name);
    if (t == null) {
      throw new ModelFormatException(
          path, "no tensor " + name + " (the file has " + tensors.size() + " tensors)");
    }
    return t;
  }

  /**
   * Checks that tensor {@code name} exists, has one of the {@code allowed} dtypes and the given
   * shape, and returns it. A dimension of -1 in {@code shape} matches any size.
   *
   * @throws ModelFormatException naming the tensor and the expected and actual dtype and shape
   */
  public TensorInfo requireShape(String name, Set<DType> allowed, long... shape) {
    TensorInfo t = info(name);
    boolean shapeOk = t.rank() == shape.length;
    for (int i = 0; shapeOk && i < shape.length; i++) {
      shapeOk = shape[i] == -1 || shape[i] == t.dim(i);
    }
    if (!allowed.contains(t.dtype()) || !shapeOk) {
      String dims =
          Arrays.stream(shape)
              .mapToObj(d -> d == -1 ? "*" : Long.toString(d))
              .collect(Collectors.joining(", ", "[", "]"));
      String types = allowed.stream().map(DType::name).sorted().collect(Collectors.joining(" or "));
      throw new ModelFormatException(
          path,
          "tensor "
              + name
              + ": expected "
              + types
              + " "
              + dims
              + ", found "
              + t.dtype()
              + " "
              + t.shapeString());
    }
    return t;
  }

  /** {@link #requireShape(String, Set, long...)} with a single allowed dtype. */
  public TensorInfo requireShape(String name, DType dtype, long... shape) {
    return requireShape(name, EnumSet.of(dtype), shape);
  }

  /**
   * A read-only, little-endian view of exactly the bytes of tensor {@code name}, memory-mapped from
   * the file (nothing is copied). Each call maps the tensor's region on its own, so files of any
   * size work as long as each tensor is below 2 GiB. The result is a {@link
   * java.nio.MappedByteBuffer}; position 0 is the tensor's first byte.
   *
   * @throws ModelFormatException if there is no such tensor, it is 2 GiB or more, or mapping fails
   * @throws IllegalStateException if this file is closed
   */
  public ByteBuffer map(String name) {
    return map(info(name));
  }

  private ByteBuffer map(TensorInfo t) {
    checkOpen();
    if (t.byteSize() > Integer.MAX_VALUE) {
      throw new ModelFormatException(
          path,
          "tensor "
              + t.name()
              + " is "
              + t.byteSize()
              + " bytes, more than one ByteBuffer can map (2 GiB - 1); read it in parts");
    }
    try {
      return channel
          .map(FileChannel.MapMode.READ_ONLY, t.begin(), t.byteSize())
          .order(ByteOrder.LITTLE_ENDIAN);
    } catch (IOException e) {
      if (closed) {
        throw new IllegalStateException("this SafetensorsFile (" + path + ") is closed", e);
      }
      throw new ModelFormatException(path, "tensor " + t.name() + ": cannot map: " + e, e);
    }
  }

  /**
   * The {@link ContentDigest} of tensor {@code name}'s bytes (read in parts, so tensors of 2 GiB
   * and more are fine).
   *
   * @throws ModelFormatException if there is no such tensor or the file cannot be read
   */
  public String digest(String name) {
    TensorInfo t = info(name);
    checkOpen();
    try {
      return ContentDigest.of(channel, t.begin(), t.byteSize());
    } catch (IOException e) {
      throw new ModelFormatException(path, "tensor " + name + ": cannot read: " + e, e);
    }
  }

  /**
   * Copies tensor {@code name} (F32, F16, BF16 or F64) into a new float array, converting each
   * element to float (F64 rounds). Meant for small tensors: norms, scales, biases.
   *
   * @throws ModelFormatException if there is no such tensor, or it has another dtype, or it has too
   *     many elements for an array
   */
  public float[] readFloats(String name) {
    TensorInfo t = info(name);
    if (!t.dtype().isFloatingPoint()) {
      throw wrongType(t, "F32, F16, BF16 or F64", "readFloats");
    }
    return t.dtype().toFloats(map(t), arrayLength(t));
  }

  /**
   * Copies integer tensor {@code name} (I64, I32, I16, I8, U32, U16 or U8) into a new long array,
   * sign- or zero-extending each element as its dtype says.
   *
   * @throws ModelFormatException if there is no such tensor, or it has another dtype, or it has too
   *     many elements for an array
   */
  public long[] readLongs(String name) {
    TensorInfo t = info(name);
    if (!LONG_TYPES.contains(t.dtype())) {
      throw wrongType(t, "I64, I32, I16, I8, U32, U16 or U8", "readLongs");
    }
    ByteBuffer b = map(t);
    long[] out = new long[arrayLength(t)];
    switch (t.dtype()) {
      case I64 -> b.asLongBuffer().get(out);
      case I32 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = b.getInt(i * 4);
        }
      }
      case U32 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = Integer.toUnsignedLong(b.getInt(i * 4));
        }
      }
      case I16 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = b.getShort(i * 2);
        }
      }
      case U16 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = Short.toUnsignedLong(b.getShort(i * 2));
        }
      }
      case I8 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = b.get(i);
        }
      }
      case U8 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = Byte.toUnsignedLong(b.get(i));
        }
      }
      default -> throw new AssertionError(t.dtype());
    }
    return out;
  }

  /**
   * Copies 16-bit tensor {@code name} into a new short array: I16 values, or the raw bit patterns
   * of F16 and BF16 (convert them with {@link HalfFloat}).
   *
   * @throws ModelFormatException if there is no such tensor, or it has another dtype, or it has too
   *     many elements for an array
   */
  public short[] readShorts(String name) {
    TensorInfo t = info(name);
    if (!SHORT_TYPES.contains(t.dtype())) {
      throw wrongType(t, "I16, F16 or BF16", "readShorts");
    }
    short[] out = new short[arrayLength(t)];
    map(t).asShortBuffer().get(out);
    return out;
  }

  /**
   * The single element of a one-element floating-point tensor (shape {@code []}, {@code [1]},
   * {@code [1, 1]}, ...) as a float.
   *
   * @throws ModelFormatException if there is no such tensor, it is not floating-point, or it does
   *     not have exactly one element
   */
  public float readScalarFloat(String name) {
    TensorInfo t = info(name);
    if (t.elementCount() != 1) {
      throw new ModelFormatException(
          path,
          "tensor "
              + name
              + ": expected a single element, found "
              + t.dtype()
              + " "
              + t.shapeString()
              + " with "
              + t.elementCount()
              + " elements");
    }
    return readFloats(name)[0];
  }

  private ModelFormatException wrongType(TensorInfo t, String expected, String method) {
    return new ModelFormatException(
        path,
        "tensor "
            + t.name()
            + ": "
            + method
            + " needs "
            + expected
            + ", found "
            + t.dtype()
            + " "
            + t.shapeString());
  }

  private int arrayLength(TensorInfo t) {
    long n = t.elementCount();
    if (n > Integer.MAX_VALUE - 8) {
      throw new ModelFormatException(
          path,
          "tensor "
              + t.name()
              + " has "
              + n
              + " elements, too many to copy into a Java array; map it");
    }
    return (int) n;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("this SafetensorsFile (" + path + ") is closed");
    }
  }

  /** Closes the file. Buffers returned by {@link #map} stay valid. Closing twice does nothing. */
  @Override
  public void close() {
    closed = true;
    closeQuietly(channel);
  }

  @Override
  public String toString() {
    return "SafetensorsFile(" + path + ", " + tensors.size() + " tensors)";
  }
}
