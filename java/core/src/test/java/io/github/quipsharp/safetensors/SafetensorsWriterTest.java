package io.github.quipsharp.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Writing: exact bytes, round trips of every dtype, determinism, and the temporary files. */
class SafetensorsWriterTest {
  @TempDir Path dir;

  private List<String> listing() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }

  @Test
  void writesExactlyTheExpectedBytes() throws IOException {
    Path target = dir.resolve("small.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(target, Map.of("b", "2", "a", "1"))) {
      // Added out of name order: the file lists and stores them sorted.
      w.addFloats("z", DType.F32, new long[] {2}, new float[] {1.0f, -2.5f});
      w.addLongs("a", DType.I8, new long[] {}, new long[] {-3});
      w.commit();
    }
    String json =
        "{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\"},"
            + "\"a\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[0,1]},"
            + "\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}";
    int padded = (json.length() + 7) / 8 * 8;
    ByteBuffer expected =
        ByteBuffer.allocate(8 + padded + 9).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
    expected.put(json.getBytes(StandardCharsets.US_ASCII));
    while (expected.position() < 8 + padded) {
      expected.put((byte) ' ');
    }
    expected.put((byte) -3).putFloat(1.0f).putFloat(-2.5f);
    assertArrayEquals(expected.array(), Files.readAllBytes(target));
    assertEquals(List.of("small.safetensors"), listing());
  }

  /** What an independent reader sees: the header parsed with plain Jackson, offsets relative. */
  private record Parsed(JsonNode header, long headerLength, byte[] data) {}

  private static Parsed parseIndependently(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    long n = b.getLong(0);
    assertEquals(0, n % 8, "header length a multiple of 8");
    String text = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    String json = text.stripTrailing();
    assertTrue(json.startsWith("{") && json.endsWith("}"), text);
    String padding = text.substring(json.length());
    assertTrue(
        padding.length() < 8 && padding.chars().allMatch(c -> c == ' '), "[" + padding + "]");
    byte[] data = new byte[bytes.length - 8 - (int) n];
    System.arraycopy(bytes, 8 + (int) n, data, 0, data.length);
    return new Parsed(new ObjectMapper().readTree(text), n, data);
  }

  private static final DType[] ALL = DType.values();

  @Test
  void rawBytesOfEveryDtypeAndShapeRoundTrip() throws IOException {
    long[][] shapes = {{}, {0}, {1}, {5}, {2, 3}, {3, 0, 2}, {1, 1, 1, 4}};
    SplittableRandom random = new SplittableRandom(3);
    Map<String, byte[]> written = new TreeMap<>();
    Map<String, long[]> shapeOf = new HashMap<>();
    Map<String, DType> typeOf = new HashMap<>();
    Path target = dir.resolve("all.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(target)) {
      int k = 0;
      for (DType t : ALL) {
        for (long[] shape : shapes) {
          String name = "t" + (k++) + "." + t;
          byte[] bytes = new byte[(int) TensorInfo.elementCount(shape) * t.byteSize()];
          for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) random.nextInt();
          }
          if (t == DType.BOOL) {
            for (int i = 0; i < bytes.length; i++) {
              bytes[i] &= 1;
            }
          }
          // Alternate heap, direct and offset buffers; the writer takes the remaining bytes.
          ByteBuffer data;
          if (k % 3 == 0) {
            data = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
          } else if (k % 3 == 1) {
            data = ByteBuffer.allocate(bytes.length + 5).position(3);
            data.put(bytes).flip().position(3);
          } else {
            data = ByteBuffer.wrap(bytes);
          }
          int before = data.position();
          w.add(name, t, shape, data);
          assertEquals(before, data.position(), "caller's position untouched");
          written.put(name, bytes);
          shapeOf.put(name, shape);
          typeOf.put(name, t);
        }
      }
      w.commit();
    }
    try (SafetensorsFile st = SafetensorsFile.open(target)) {
      assertEquals(written.size(), st.tensors().size());
      // Header order is name order.
      assertEquals(
          new ArrayList<>(written.keySet()),
          st.tensors().stream().map(TensorInfo::name).collect(Collectors.toList()));
      for (Map.Entry<String, byte[]> e : written.entrySet()) {
        TensorInfo info = st.info(e.getKey());
        assertEquals(typeOf.get(e.getKey()), info.dtype());
        assertArrayEquals(shapeOf.get(e.getKey()), info.shape());
        ByteBuffer m = st.map(e.getKey());
        byte[] back = new byte[m.remaining()];
        m.get(back);
        assertArrayEquals(e.getValue(), back, e.getKey());
      }
    }
    // The same, as an independent parser sees it: contiguous name-ordered offsets.
    Parsed p = parseIndependently(target);
    long next = 0;
    Iterator<Map.Entry<String, JsonNode>> it = p.header().fields();
    List<String> names = new ArrayList<>();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      names.add(e.getKey());
      JsonNode offsets = e.getValue().get("data_offsets");
      assertEquals(next, offsets.get(0).longValue(), e.getKey());
      next = offsets.get(1).longValue();
      byte[] expected = written.get(e.getKey());
      assertEquals(expected.length, next - offsets.get(0).longValue());
      for (int i = 0; i < expected.length; i++) {
        assertEquals(expected[i], p.data()[(int) offsets.get(0).longValue() + i]);
      }
    }
    assertEquals(new ArrayList<>(written.keySet()), names);
    assertEquals(p.data().length, next);
  }

  @Test
  void typedAddersRoundTrip() throws IOException {
    float[] floats = {0f, -0f, 1f, -1.5f, 3.14159f, 1e-8f, 65504f, 70000f, 1e38f, Float.NaN};
    float[] big = new float[700_000]; // several 1 MiB conversion chunks
    SplittableRandom random = new SplittableRandom(4);
    for (int i = 0; i < big.length; i++) {
      big[i] = (float) random.nextGaussian();
    }
    long[] i64 = {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE};
    long[] i32 = {Integer.MIN_VALUE, -1, 0, Integer.MAX_VALUE};
    long[] i16 = {Short.MIN_VALUE, -1, 0, Short.MAX_VALUE};
    long[] i8 = {Byte.MIN_VALUE, -1, 0, Byte.MAX_VALUE};
    long[] u32 = {0, 1, 0x7fffffffL, 0xffffffffL};
    long[] u16 = {0, 1, 0x7fff, 0xffff};
    long[] u8 = {0, 1, 0x7f, 0xff};
    short[] shorts = {Short.MIN_VALUE, -1, 0, 0x3c00};
    Path target = dir.resolve("typed.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(target, Map.of())) {
      for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F64}) {
        w.addFloats("f." + t, t, new long[] {2, 5}, floats);
        w.addFloats("big." + t, t, new long[] {700, 1000}, big);
      }
      w.addFloats("scalar", DType.F16, new long[] {}, new float[] {0.5f});
      w.addFloats("none", DType.BF16, new long[] {0, 4}, new float[0]);
      w.addLongs("i64", DType.I64, new long[] {4}, i64);
      w.addLongs("i32", DType.I32, new long[] {2, 2}, i32);
      w.addLongs("i16", DType.I16, new long[] {4}, i16);
      w.addLongs("i8", DType.I8, new long[] {4}, i8);
      w.addLongs("u32", DType.U32, new long[] {4}, u32);
      w.addLongs("u16", DType.U16, new long[] {4}, u16);
      w.addLongs("u8", DType.U8, new long[] {4}, u8);
      w.addLongs("bool", DType.BOOL, new long[] {3}, new long[] {1, 0, 1});
      w.addShorts("s16", DType.I16, new long[] {4}, shorts);
      w.addShorts("h16", DType.F16, new long[] {4}, shorts);
      w.addShorts("bigshorts", DType.BF16, new long[] {600_000}, new short[600_000]);
      w.addBytes("raw", DType.U8, new long[] {3}, new byte[] {9, 8, 7});
      assertTrue(w.contains("raw"));
      assertFalse(w.contains("other"));
      w.commit();
    }
    try (SafetensorsFile st = SafetensorsFile.open(target)) {
      for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F64}) {
        float[] expected = floats.clone();
        float[] expectedBig = big.clone();
        for (float[] arr : new float[][] {expected, expectedBig}) {
          for (int i = 0; i < arr.length; i++) {
            if (t == DType.F16) {
              arr[i] = HalfFloat.toFloat(HalfFloat.fromFloat(arr[i]));
            } else if (t == DType.BF16) {
              arr[i] = HalfFloat.bf16ToFloat(HalfFloat.bf16FromFloat(arr[i]));
            }
          }
        }
        assertArrayEquals(expected, st.readFloats("f." + t), t.name());
        assertArrayEquals(expectedBig, st.readFloats("big." + t), t.name());
        assertEquals(t, st.info("f." + t).dtype());
      }
      assertEquals(Float.POSITIVE_INFINITY, st.readFloats("f.F16")[7]); // 70000 overflows F16
      assertEquals(0.5f, st.readScalarFloat("scalar"));
      assertEquals(0, st.readFloats("none").length);
      assertArrayEquals(i64, st.readLongs("i64"));
      assertArrayEquals(i32, st.readLongs("i32"));
      assertArrayEquals(i16, st.readLongs("i16"));
      assertArrayEquals(i8, st.readLongs("i8"));
      assertArrayEquals(u32, st.readLongs("u32"));
      assertArrayEquals(u16, st.readLongs("u16"));
      assertArrayEquals(u8, st.readLongs("u8"));
      ByteBuffer bools = st.map("bool");
      assertEquals(1, bools.get(0));
      assertEquals(0, bools.get(1));
      assertArrayEquals(shorts, st.readShorts("s16"));
      assertArrayEquals(shorts, st.readShorts("h16"));
      assertEquals(DType.F16, st.info("h16").dtype());
      assertEquals(600_000, st.readShorts("bigshorts").length);
      assertArrayEquals(new long[] {9, 8, 7}, st.readLongs("raw"));
      assertTrue(st.metadata().isEmpty());
    }
  }

  @Test
  void sameTensorsAndMetadataGiveIdenticalBytesWhateverTheAddOrder() throws IOException {
    Path first = dir.resolve("first.safetensors");
    Path second = dir.resolve("second.safetensors");
    float[] a = {1, 2, 3, 4, 5, 6};
    long[] b = {7, 8};
    try (SafetensorsWriter w = SafetensorsWriter.create(first, Map.of("x", "1", "y", "é ✓"))) {
      w.addFloats("layer.b", DType.BF16, new long[] {2, 3}, a);
      w.addLongs("layer.a", DType.I32, new long[] {2}, b);
      w.addFloats("norm", DType.F32, new long[] {}, new float[] {0.25f});
      w.commit();
    }
    try (SafetensorsWriter w = SafetensorsWriter.create(second, Map.of("y", "é ✓", "x", "1"))) {
      w.addFloats("norm", DType.F32, new long[] {}, new float[] {0.25f});
      w.addLongs("layer.a", DType.I32, new long[] {2}, b);
      w.addFloats("layer.b", DType.BF16, new long[] {2, 3}, a);
      w.commit();
    }
    assertEquals(-1, Files.mismatch(first, second));
    try (SafetensorsFile st = SafetensorsFile.open(first)) {
      assertEquals("é ✓", st.metadata().get("y"));
    }
  }

  @Test
  void copiesTheRealFileTensorForTensor() throws IOException {
    Path real = SharedModels.require("stories260K-hf/model.safetensors");
    Path copy = dir.resolve("copy.safetensors");
    try (SafetensorsFile in = SafetensorsFile.open(real);
        SafetensorsWriter w = SafetensorsWriter.create(copy, in.metadata())) {
      for (TensorInfo t : in.tensors()) {
        w.add(t.name(), t.dtype(), t.shape(), in.map(t.name())); // mapped, never on the heap
      }
      w.commit();
    }
    try (SafetensorsFile in = SafetensorsFile.open(real);
        SafetensorsFile out = SafetensorsFile.open(copy)) {
      assertEquals(in.metadata(), out.metadata());
      assertEquals(47, out.tensors().size());
      for (TensorInfo t : in.tensors()) {
        TensorInfo u = out.info(t.name());
        assertEquals(t.dtype(), u.dtype());
        assertArrayEquals(t.shape(), u.shape());
        assertEquals(in.map(t.name()), out.map(t.name()), t.name()); // content comparison
      }
      long realData = Files.size(real) - 8 - in.headerLength();
      assertEquals(realData, Files.size(copy) - 8 - out.headerLength());
    }
  }

  @Test
  void anExceptionBetweenAddsLeavesNoTargetAndNoTemporaryFile() throws IOException {
    Path target = dir.resolve("crash.safetensors");
    IllegalStateException boom =
        assertThrows(
            IllegalStateException.class,
            () -> {
              try (SafetensorsWriter w = SafetensorsWriter.create(target, Map.of("k", "v"))) {
                w.addFloats("a", DType.F32, new long[] {1000}, new float[1000]);
                assertEquals(1, listing().size(), "only the staging file while adding");
                assertTrue(listing().get(0).startsWith("crash.safetensors.tmp-"), listing().get(0));
                throw new IllegalStateException("boom");
              }
            });
    assertEquals("boom", boom.getMessage());
    assertEquals(List.of(), listing());
  }

  @Test
  void commitReplacesAnExistingTargetAtomically() throws IOException {
    Path target = dir.resolve("model.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(target)) {
      w.addFloats("w", DType.F32, new long[] {2}, new float[] {1, 2});
      w.commit();
    }
    byte[] old = Files.readAllBytes(target);
    try (SafetensorsFile before = SafetensorsFile.open(target)) {
      ByteBuffer oldMapping = before.map("w");
      try (SafetensorsWriter w = SafetensorsWriter.create(target, Map.of("v", "2"))) {
        w.addFloats("w", DType.F32, new long[] {3}, new float[] {7, 8, 9});
        // Until commit the target is the old file, untouched.
        assertArrayEquals(old, Files.readAllBytes(target));
        w.commit();
        IllegalStateException again = assertThrows(IllegalStateException.class, w::commit);
        assertTrue(again.getMessage().contains("already committed"), again.getMessage());
      }
      // The old file was replaced by a rename, not rewritten in place: a mapping of it still
      // sees the old values.
      assertEquals(2f, oldMapping.getFloat(4));
      assertEquals(List.of("model.safetensors"), listing());
    }
    try (SafetensorsFile after = SafetensorsFile.open(target)) {
      assertArrayEquals(new float[] {7, 8, 9}, after.readFloats("w"));
      assertEquals("2", after.metadata().get("v"));
    }
  }

  @Test
  void committedFileHasTheFolderDefaultPermissions() throws IOException {
    Path target = dir.resolve("perm.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(target)) {
      w.commit();
    }
    Path plain = Files.createFile(dir.resolve("plain"));
    if (Files.getFileStore(dir).supportsFileAttributeView("posix")) {
      assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(target));
    }
    try (SafetensorsFile st = SafetensorsFile.open(target)) {
      assertEquals(0, st.tensors().size());
    }
  }

  @Test
  void badArgumentsAreRefusedAndLeaveTheWriterUsable() throws IOException {
    Path target = dir.resolve("args.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(target)) {
      w.addFloats("ok", DType.F32, new long[] {1}, new float[] {1});
      assertIae(() -> w.addFloats("ok", DType.F32, new long[] {1}, new float[] {1}), "already");
      assertIae(
          () -> w.addFloats("__metadata__", DType.F32, new long[] {}, new float[1]), "reserved");
      assertIae(() -> w.addFloats(null, DType.F32, new long[] {}, new float[1]), "name");
      assertIae(() -> w.addFloats("x", null, new long[] {}, new float[1]), "dtype");
      assertIae(() -> w.addFloats("x", DType.F32, null, new float[1]), "shape");
      assertIae(() -> w.addFloats("x", DType.F32, new long[] {-1}, new float[0]), "negative");
      assertIae(() -> w.addFloats("x", DType.F32, new long[] {2, 3}, new float[5]), "6 elements");
      assertIae(() -> w.addFloats("x", DType.F32, new long[] {1}, null), "null");
      assertIae(() -> w.addFloats("x", DType.I32, new long[] {1}, new float[1]), "I32");
      assertIae(() -> w.addLongs("x", DType.F32, new long[] {1}, new long[1]), "F32");
      assertIae(() -> w.addLongs("x", DType.U64, new long[] {1}, new long[1]), "U64");
      assertIae(() -> w.addShorts("x", DType.I32, new long[] {1}, new short[1]), "I32");
      assertIae(
          () -> w.addLongs("x", DType.I8, new long[] {2}, new long[] {1, 128}),
          "values[1] = 128 does not fit I8 [-128, 127]");
      assertIae(() -> w.addLongs("x", DType.U8, new long[] {1}, new long[] {-1}), "U8");
      assertIae(() -> w.addLongs("x", DType.BOOL, new long[] {1}, new long[] {2}), "BOOL");
      assertIae(() -> w.addLongs("x", DType.U32, new long[] {1}, new long[] {1L << 32}), "U32");
      assertIae(
          () -> w.add("x", DType.F16, new long[] {3}, ByteBuffer.allocate(5)),
          "needs 6 bytes, but data has 5");
      assertIae(() -> w.add("x", DType.F16, new long[] {3}, null), "data");
      assertIae(
          () -> w.add("x", DType.F64, new long[] {1L << 40, 1L << 30}, ByteBuffer.allocate(0)),
          "overflows");
      assertIae(() -> w.addBytes("x", DType.U8, new long[] {2}, new byte[3]), "needs 2 bytes");
      assertFalse(w.contains("x"));
      w.addLongs("x", DType.I8, new long[] {2}, new long[] {1, 2});
      w.commit();
      assertThrows(
          IllegalStateException.class,
          () -> w.addFloats("y", DType.F32, new long[] {1}, new float[] {1}));
    }
    try (SafetensorsFile st = SafetensorsFile.open(target)) {
      assertEquals(2, st.tensors().size());
      assertArrayEquals(new long[] {1, 2}, st.readLongs("x"));
    }
    assertThrows(
        IllegalArgumentException.class, () -> SafetensorsWriter.create(dir, Map.of()).close());
    assertThrows(
        NoSuchFileException.class,
        () -> SafetensorsWriter.create(dir.resolve("no/such/folder/x.safetensors")).close());
  }

  @Test
  void closeWithoutCommitDeletesAndCloseIsIdempotent() throws IOException {
    Path target = dir.resolve("abandoned.safetensors");
    SafetensorsWriter w = SafetensorsWriter.create(target);
    w.addFloats("a", DType.F32, new long[] {4}, new float[4]);
    w.close();
    w.close();
    assertEquals(List.of(), listing());
    assertThrows(
        IllegalStateException.class,
        () -> w.addFloats("b", DType.F32, new long[] {1}, new float[1]));
    assertThrows(IllegalStateException.class, w::commit);
  }

  private static void assertIae(Executable body, String part) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, body);
    assertTrue(e.getMessage().contains(part), "\"" + part + "\" not in: " + e.getMessage());
  }
}
