package io.github.quipsharp.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading: the real stories260K file, hand-built files of every dtype, and the accessors. */
class SafetensorsFileTest {
  @TempDir Path dir;

  /** A safetensors file from a header text and a data section, built by hand. */
  static byte[] fileBytes(String header, byte[] data) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h).put(data);
    return b.array();
  }

  static Path write(Path file, String header, byte[] data) throws IOException {
    return Files.write(file, fileBytes(header, data));
  }

  /** Little-endian bytes from a writer function. */
  static byte[] le(int size, Consumer<ByteBuffer> fill) {
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    fill.accept(b);
    return b.array();
  }

  @Test
  void readsTheRealStories260KFile() {
    Path file = SharedModels.require("stories260K-hf/model.safetensors");
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      List<TensorInfo> tensors = st.tensors();
      assertEquals(47, tensors.size());
      assertEquals("model.embed_tokens.weight", tensors.get(0).name()); // file order
      assertEquals("model.norm.weight", tensors.get(46).name());
      assertEquals("pt", st.metadata().get("format"));
      assertEquals(4960, st.headerLength());

      TensorInfo embed = st.requireShape("model.embed_tokens.weight", DType.F32, 512, 64);
      assertEquals(8 + 4960, embed.begin()); // absolute file offsets
      assertEquals(8 + 4960 + 512 * 64 * 4, embed.end());
      assertEquals(512 * 64, embed.elementCount());
      TensorInfo down = st.requireShape("model.layers.0.mlp.down_proj.weight", DType.F32, 64, -1);
      assertArrayEquals(new long[] {64, 172}, down.shape());
      assertEquals(8 + 4960 + 268800, down.begin());

      ByteBuffer mapped = st.map("model.embed_tokens.weight");
      assertInstanceOf(MappedByteBuffer.class, mapped);
      assertTrue(mapped.isReadOnly());
      assertEquals(ByteOrder.LITTLE_ENDIAN, mapped.order());
      assertEquals(0, mapped.position());
      assertEquals(512 * 64 * 4, mapped.remaining());
      // Reference values read with Python's struct module.
      assertEquals(-0.29474878311157227f, mapped.getFloat(0));
      assertEquals(0.5618956089019775f, mapped.getFloat(4));
      assertEquals(-0.424032598733902f, mapped.getFloat(512 * 64 * 4 - 4));

      float[] embedValues = st.readFloats("model.embed_tokens.weight");
      assertEquals(-752.3677446640068, sum(embedValues), 1e-3);
      float[] downValues = st.readFloats("model.layers.0.mlp.down_proj.weight");
      assertEquals(64 * 172, downValues.length);
      assertEquals(0.13498419523239136f, downValues[0]);
      assertEquals(-0.11420675367116928f, downValues[64 * 172 - 1]);
      assertEquals(2.412316798055599, sum(downValues), 1e-4);

      // Contiguous, in file order, ending at the end of the file.
      long next = 8 + st.headerLength();
      for (TensorInfo t : tensors) {
        assertEquals(next, t.begin(), t.name());
        assertEquals(t.elementCount() * 4, t.byteSize(), t.name());
        next = t.end();
      }
      assertEquals(1045096, next);
    }
  }

  private static double sum(float[] v) {
    double s = 0;
    for (float x : v) {
      s += x;
    }
    return s;
  }

  @Test
  void readsEveryDtypeScalarsAndEmptyTensors() throws IOException {
    byte[] f32 = le(8, b -> b.putFloat(1.5f).putFloat(-2f));
    byte[] f64 = le(16, b -> b.putDouble(0.1).putDouble(-1e300));
    byte[] f16 = le(4, b -> b.putShort((short) 0x3c00).putShort((short) 0xfc00));
    byte[] bf16 = le(4, b -> b.putShort((short) 0x3f80).putShort((short) 0xc040));
    byte[] i64 = le(16, b -> b.putLong(Long.MIN_VALUE).putLong(Long.MAX_VALUE));
    byte[] i32 = le(8, b -> b.putInt(-5).putInt(Integer.MAX_VALUE));
    byte[] u32 = le(4, b -> b.putInt(-1));
    byte[] i16 = le(4, b -> b.putShort((short) -300).putShort((short) 7));
    byte[] u16 = le(2, b -> b.putShort((short) -1));
    byte[] i8 = {-128, 127};
    byte[] u8 = {(byte) 255, 0};
    byte[] scalar = le(4, b -> b.putFloat(3.25f));
    List<byte[]> parts = List.of(f32, f64, f16, bf16, i64, i32, u32, i16, u16, i8, u8, scalar);
    String[] entries = {
      "\"f32\":{\"dtype\":\"F32\",\"shape\":[2],",
      "\"f64\":{\"dtype\":\"F64\",\"shape\":[1,2],",
      "\"f16\":{\"dtype\":\"F16\",\"shape\":[2,1],",
      "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[2],",
      "\"i64\":{\"dtype\":\"I64\",\"shape\":[2],",
      "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],",
      "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],",
      "\"i16\":{\"dtype\":\"I16\",\"shape\":[2],",
      "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],",
      "\"i8\":{\"dtype\":\"I8\",\"shape\":[2],",
      "\"u8\":{\"dtype\":\"U8\",\"shape\":[2],",
      "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],",
    };
    StringBuilder header = new StringBuilder("{\"__metadata__\":{\"k\":\"v\"},");
    ByteBuffer data = ByteBuffer.allocate(1000);
    for (int i = 0; i < parts.size(); i++) {
      int begin = data.position();
      data.put(parts.get(i));
      header
          .append(entries[i])
          .append("\"data_offsets\":[")
          .append(begin)
          .append(',')
          .append(data.position())
          .append("]},");
    }
    int end = data.position();
    // Empty tensors: no bytes, at any offset (here the end and the start).
    header.append(
        "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":["
            + end
            + ","
            + end
            + "]},");
    header.append("\"empty2\":{\"dtype\":\"I64\",\"shape\":[4,0],\"data_offsets\":[0,0]}}");
    header.append("   "); // padding
    byte[] bytes = new byte[end];
    data.flip().get(bytes);
    Path file = write(dir.resolve("all.safetensors"), header.toString(), bytes);

    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertEquals(14, st.tensors().size());
      assertEquals("v", st.metadata().get("k"));
      assertArrayEquals(new float[] {1.5f, -2f}, st.readFloats("f32"));
      assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, st.readFloats("f64"));
      assertArrayEquals(new float[] {1f, Float.NEGATIVE_INFINITY}, st.readFloats("f16"));
      assertArrayEquals(new float[] {1f, -3f}, st.readFloats("bf16"));
      assertArrayEquals(new long[] {Long.MIN_VALUE, Long.MAX_VALUE}, st.readLongs("i64"));
      assertArrayEquals(new long[] {-5, Integer.MAX_VALUE}, st.readLongs("i32"));
      assertArrayEquals(new long[] {0xffffffffL}, st.readLongs("u32"));
      assertArrayEquals(new long[] {-300, 7}, st.readLongs("i16"));
      assertArrayEquals(new long[] {0xffff}, st.readLongs("u16"));
      assertArrayEquals(new long[] {-128, 127}, st.readLongs("i8"));
      assertArrayEquals(new long[] {255, 0}, st.readLongs("u8"));
      assertArrayEquals(new short[] {-300, 7}, st.readShorts("i16"));
      assertArrayEquals(new short[] {0x3c00, (short) 0xfc00}, st.readShorts("f16"));
      assertEquals(3.25f, st.readScalarFloat("scalar"));
      assertEquals(1, st.info("scalar").elementCount());
      assertEquals(0, st.info("scalar").rank());
    }
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertEquals(0, st.map("empty").capacity());
      assertEquals(0, st.readFloats("empty").length);
      assertEquals(0, st.readLongs("empty2").length);
      assertEquals(0, st.info("empty").elementCount());
      assertArrayEquals(new long[] {0, 3}, st.info("empty").shape());
      assertTrue(st.contains("f16"));
      assertFalse(st.contains("nope"));
      assertFalse(st.contains("__metadata__"));
    }
  }

  @Test
  void accessorsNameTheFileAndTheTensorOnMisuse() throws IOException {
    byte[] data = le(16, b -> b.putFloat(1).putFloat(2).putLong(9));
    Path file =
        write(
            dir.resolve("two.safetensors"),
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"n\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}",
            data);
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.info("missing")), file, "missing");
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.map("missing")), file, "missing");
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.readFloats("n")), file, "n", "I64");
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.readLongs("w")), file, "w", "F32");
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.readShorts("w")), file, "w", "F32");
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.readScalarFloat("w")),
          file,
          "tensor w",
          "[2]",
          "2 elements");
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.readScalarFloat("n")),
          file,
          "n",
          "I64");
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.requireShape("w", DType.F32, 3)),
          file,
          "tensor w: expected F32 [3], found F32 [2]");
      assertMessage(
          assertThrows(
              ModelFormatException.class,
              () -> st.requireShape("w", EnumSet.of(DType.F16, DType.BF16), 2)),
          file,
          "tensor w: expected BF16 or F16 [2], found F32 [2]");
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.requireShape("w", DType.F32, 2, -1)),
          file,
          "expected F32 [2, *], found F32 [2]");
      assertEquals(2, st.requireShape("w", DType.F32, -1).elementCount());
      assertEquals(9, st.readLongs("n")[0]);
    }
  }

  @Test
  void closeEndsMappingButNotTheHeaderOrEarlierBuffers() throws IOException {
    Path file =
        write(
            dir.resolve("one.safetensors"),
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            le(8, b -> b.putFloat(1).putFloat(2)));
    SafetensorsFile st = SafetensorsFile.open(file);
    ByteBuffer keep = st.map("w");
    st.close();
    st.close(); // twice is fine
    assertThrows(IllegalStateException.class, () -> st.map("w"));
    assertThrows(IllegalStateException.class, () -> st.readFloats("w"));
    assertEquals(2f, keep.getFloat(4)); // mapped buffers outlive the file
    assertEquals(1, st.tensors().size());
    assertEquals(8, st.info("w").byteSize());
  }

  @Test
  void readScalarFloatRefusesIntegerScalars() throws IOException {
    Path file =
        write(
            dir.resolve("s.safetensors"),
            "{\"s\":{\"dtype\":\"U32\",\"shape\":[],\"data_offsets\":[0,4]}}",
            new byte[4]);
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.readScalarFloat("s")),
          file,
          "s",
          "U32");
      assertArrayEquals(new long[] {0}, st.readLongs("s"));
    }
  }

  @Test
  void mapsTensorsPast2GiBAndRefusesTensorsOf2GiBOrMore() throws IOException {
    // A sparse file: only the header and the last 8 bytes are written, so it takes no disk space
    // on the usual file systems; the check below skips the test where it might.
    assumeTrue(Files.getFileStore(dir).getUsableSpace() > (4L << 30), "needs 4 GiB free");
    long big = 3L << 30;
    String header =
        "{\"big\":{\"dtype\":\"U8\",\"shape\":["
            + big
            + "],\"data_offsets\":[0,"
            + big
            + "]},\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":["
            + big
            + ","
            + (big + 8)
            + "]}}";
    byte[] head = fileBytes(header, new byte[0]);
    Path file = dir.resolve("sparse.safetensors");
    try (FileChannel ch =
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(head));
      ch.write(ByteBuffer.wrap(le(8, b -> b.putFloat(1.5f).putFloat(-4f))), head.length + big);
    }
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertEquals(head.length + big, st.info("tail").begin());
      assertEquals(1.5f, st.map("tail").getFloat(0));
      assertArrayEquals(new float[] {1.5f, -4f}, st.readFloats("tail"));
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.map("big")),
          file,
          "tensor big is 3221225472 bytes",
          "2 GiB");
      assertMessage(
          assertThrows(ModelFormatException.class, () -> st.readLongs("big")), file, "big");
    } finally {
      Files.delete(file);
    }
  }

  @Test
  void acceptsMetadataStringsBeyondJacksonsDefaultLimit() throws IOException {
    String longValue = "x".repeat(21_000_000); // Jackson refuses > 20M chars by default
    Path file =
        write(
            dir.resolve("long.safetensors"),
            "{\"__metadata__\":{\"notes\":\"" + longValue + "\"}}",
            new byte[0]);
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      assertEquals(longValue.length(), st.metadata().get("notes").length());
    }
  }

  /** Asserts that the message names {@code file} and contains every one of {@code parts}. */
  static void assertMessage(ModelFormatException e, Path file, String... parts) {
    String m = e.getMessage();
    assertTrue(m.contains(file.toString()), "file not named: " + m);
    assertEquals(file, e.file());
    for (String p : parts) {
      assertTrue(m.contains(p), "\"" + p + "\" not in: " + m);
    }
  }
}
