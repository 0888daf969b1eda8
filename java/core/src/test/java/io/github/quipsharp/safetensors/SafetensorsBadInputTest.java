package io.github.quipsharp.safetensors;

import static io.github.quipsharp.safetensors.SafetensorsFileTest.assertMessage;
import static io.github.quipsharp.safetensors.SafetensorsFileTest.fileBytes;
import static io.github.quipsharp.safetensors.SafetensorsFileTest.write;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every malformed file is refused by {@link SafetensorsFile#open} with a {@link
 * ModelFormatException} naming the file, the tensor where there is one, and the numbers.
 */
class SafetensorsBadInputTest {
  @TempDir Path dir;

  private ModelFormatException refused(Path file) {
    return assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file).close());
  }

  private ModelFormatException refusedHeader(String header, int dataBytes) throws IOException {
    Path file = write(dir.resolve("bad.safetensors"), header, new byte[dataBytes]);
    return refused(file);
  }

  private Path file() {
    return dir.resolve("bad.safetensors");
  }

  private static String entry(String name, String dtype, String shape, long begin, long end) {
    return "\""
        + name
        + "\":{\"dtype\":\""
        + dtype
        + "\",\"shape\":"
        + shape
        + ",\"data_offsets\":["
        + begin
        + ","
        + end
        + "]}";
  }

  @Test
  void missingFile() {
    Path file = dir.resolve("absent.safetensors");
    assertMessage(refused(file), file, "no such file");
  }

  @Test
  void directory() {
    assertMessage(refused(dir), dir, "directory");
  }

  @Test
  void emptyFile() throws IOException {
    Path file = Files.write(file(), new byte[0]);
    assertMessage(refused(file), file, "file is 0 bytes", "8-byte header length");
  }

  @Test
  void fiveByteFile() throws IOException {
    Path file = Files.write(file(), new byte[] {1, 2, 3, 4, 5});
    assertMessage(refused(file), file, "file is 5 bytes");
  }

  private Path withLengthField(long length, int totalBytes) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(totalBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(length);
    while (b.hasRemaining()) {
      b.put((byte) ' ');
    }
    return Files.write(file(), b.array());
  }

  @Test
  void headerLengthBeyondTheFile() throws IOException {
    Path file = withLengthField(100, 50);
    assertMessage(refused(file), file, "header length 100 bytes", "42 bytes after");
  }

  @Test
  void headerLengthHuge() throws IOException {
    // 2^63 is negative as a signed long; it must be read as unsigned and refused by the limit.
    Path file = withLengthField(Long.MIN_VALUE, 64);
    assertMessage(refused(file), file, "header length 9223372036854775808 bytes", "limit");
    file = withLengthField(-1, 64);
    assertMessage(refused(file), file, "header length 18446744073709551615 bytes");
    file = withLengthField(SafetensorsFile.MAX_HEADER_BYTES + 1, 64);
    assertMessage(refused(file), file, "header length 104857601 bytes", "100 MiB");
  }

  @Test
  void headerNotJson() throws IOException {
    assertMessage(refusedHeader("this is not json", 0), file(), "not valid JSON");
    assertMessage(refusedHeader("{\"a\":", 0), file(), "not valid JSON");
    assertMessage(refusedHeader("", 0), file(), "must be a JSON object", "empty");
    assertMessage(refusedHeader("        ", 0), file(), "must be a JSON object", "empty");
    // Trailing content after the object: the header length or the header is wrong.
    assertMessage(refusedHeader("{} {}", 0), file(), "not valid JSON");
    assertMessage(refusedHeader("{}xyz", 0), file(), "not valid JSON");
  }

  @Test
  void headerNotUtf8() throws IOException {
    byte[] bytes = fileBytes("{\"\u00e9\":1}", new byte[0]);
    bytes[10] = (byte) 0xff; // break the two-byte sequence of é
    Path file = Files.write(file(), bytes);
    assertMessage(refused(file), file, "not valid UTF-8");
  }

  @Test
  void headerJsonNotAnObject() throws IOException {
    assertMessage(refusedHeader("[1, 2, 3]", 0), file(), "must be a JSON object", "ARRAY");
    assertMessage(refusedHeader("42", 0), file(), "must be a JSON object", "NUMBER");
    assertMessage(refusedHeader("\"x\"", 0), file(), "must be a JSON object", "STRING");
    assertMessage(refusedHeader("{\"w\": 3}", 0), file(), "tensor w", "must be an object");
  }

  @Test
  void duplicateTensorNames() throws IOException {
    String header =
        "{" + entry("w", "F32", "[1]", 0, 4) + "," + entry("w", "F32", "[1]", 4, 8) + "}";
    assertMessage(refusedHeader(header, 8), file(), "not valid JSON", "w");
  }

  @Test
  void unknownDtype() throws IOException {
    String header = "{" + entry("model.x", "F24", "[2]", 0, 6) + "}";
    assertMessage(refusedHeader(header, 6), file(), "tensor model.x", "unknown dtype \"F24\"");
    header = "{" + entry("model.x", "f32", "[2]", 0, 8) + "}"; // case matters
    assertMessage(refusedHeader(header, 8), file(), "tensor model.x", "unknown dtype \"f32\"");
    header = "{\"model.x\":{\"shape\":[2],\"data_offsets\":[0,8]}}";
    assertMessage(refusedHeader(header, 8), file(), "tensor model.x", "dtype");
  }

  @Test
  void shapeAndLengthMismatch() throws IOException {
    String header = "{" + entry("model.w", "F32", "[3,4]", 0, 40) + "}";
    assertMessage(
        refusedHeader(header, 48),
        file(),
        "tensor model.w",
        "F32 [3, 4] needs 48 bytes",
        "data_offsets [0, 40] span 40 bytes");
    header = "{" + entry("model.h", "BF16", "[]", 0, 4) + "}";
    assertMessage(refusedHeader(header, 4), file(), "tensor model.h", "needs 2 bytes");
  }

  @Test
  void negativeDims() throws IOException {
    String header = "{" + entry("model.w", "F32", "[-2,-3]", 0, 24) + "}";
    assertMessage(refusedHeader(header, 24), file(), "tensor model.w", "negative", "[-2, -3]");
  }

  @Test
  void malformedShapesAndOffsets() throws IOException {
    assertMessage(
        refusedHeader("{" + entry("w", "F32", "[2.5]", 0, 8) + "}", 8), file(), "tensor w", "2.5");
    assertMessage(
        refusedHeader("{" + entry("w", "F32", "[\"2\"]", 0, 8) + "}", 8), file(), "tensor w");
    assertMessage(
        refusedHeader("{" + entry("w", "F32", "2", 0, 8) + "}", 8), file(), "tensor w", "shape");
    assertMessage(
        refusedHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8),
        file(),
        "tensor w",
        "data_offsets",
        "missing");
    assertMessage(
        refusedHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8),
        file(),
        "tensor w",
        "must have 2 entries");
    assertMessage(
        refusedHeader("{" + entry("w", "F32", "[99999999999999999999]", 0, 8) + "}", 8),
        file(),
        "tensor w",
        "64-bit");
    // Dimensions whose product overflows a long.
    assertMessage(
        refusedHeader("{" + entry("w", "F32", "[4294967296,4294967296]", 0, 8) + "}", 8),
        file(),
        "tensor w",
        "overflows");
    assertMessage(
        refusedHeader("{" + entry("w", "F64", "[2305843009213693952]", 0, 8) + "}", 8),
        file(),
        "tensor w",
        "overflows");
    assertMessage(
        refusedHeader("{" + entry("w", "F32", "[1]", 8, 4) + "}", 8),
        file(),
        "tensor w",
        "data_offsets [8, 4]");
    assertMessage(
        refusedHeader("{" + entry("w", "F32", "[1]", -4, 0) + "}", 8),
        file(),
        "tensor w",
        "data_offsets [-4, 0]");
  }

  @Test
  void badMetadata() throws IOException {
    assertMessage(refusedHeader("{\"__metadata__\":[1]}", 0), file(), "__metadata__", "object");
    assertMessage(
        refusedHeader("{\"__metadata__\":{\"a\":1}}", 0),
        file(),
        "__metadata__",
        "\"a\"",
        "string");
  }

  @Test
  void offsetsBeyondTheData() throws IOException {
    String header =
        "{" + entry("model.layers.0.mlp.up_proj.weight", "F32", "[1024]", 0, 4096) + "}";
    assertMessage(
        refusedHeader(header, 2048),
        file(),
        "tensor model.layers.0.mlp.up_proj.weight: data_offsets [0, 4096] end beyond the data"
            + " section (2048 bytes); the file is truncated or corrupt");
  }

  @Test
  void truncatedRealFile() throws IOException {
    Path real = SharedModels.require("stories260K-hf/model.safetensors");
    byte[] bytes = Files.readAllBytes(real);
    // Cut into the last tensor, model.norm.weight (64 floats at the end).
    Path cut =
        Files.write(dir.resolve("cut.safetensors"), Arrays.copyOf(bytes, bytes.length - 100));
    assertMessage(
        refused(cut),
        cut,
        "tensor model.norm.weight",
        "data_offsets [1039872, 1040128]",
        "(1040028 bytes)",
        "truncated");
    // Cut into the header.
    Path cutHeader = Files.write(dir.resolve("cut2.safetensors"), Arrays.copyOf(bytes, 1000));
    assertMessage(refused(cutHeader), cutHeader, "header length 4960 bytes", "992 bytes after");
  }

  @Test
  void overlappingTensors() throws IOException {
    String header =
        "{"
            + entry("a", "F32", "[4]", 0, 16)
            + ","
            + entry("b", "F32", "[2]", 24, 32)
            + ","
            + entry("c", "F32", "[3]", 12, 24)
            + "}";
    assertMessage(
        refusedHeader(header, 32),
        file(),
        "tensors a (data_offsets [0, 16]) and c (data_offsets [12, 24]) overlap");
    // The same region twice.
    header = "{" + entry("a", "I8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 0, 4) + "}";
    assertMessage(refusedHeader(header, 4), file(), "tensors a", "and b", "overlap");
  }

  @Test
  void emptyTensorsInsideOthersDoNotOverlap() throws IOException {
    // Holes between tensors and empty tensors anywhere are fine: neither shares a byte.
    String header =
        "{"
            + entry("a", "F32", "[4]", 0, 16)
            + ","
            + entry("e", "F32", "[0]", 8, 8)
            + ","
            + entry("b", "F32", "[1]", 20, 24)
            + "}";
    Path file = write(file(), header, new byte[24]);
    SafetensorsFile.open(file).close();
  }
}
