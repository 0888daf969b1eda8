package io.github.quipsharp.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContentDigestTest {
  @TempDir Path tmp;

  @Test
  void isCrc32cWithItsStandardCheckValue() {
    // The CRC-32C (Castagnoli) check value of "123456789" (RFC 3720, B.4; the CRC catalogue).
    assertEquals("e3069283", ContentDigest.of("123456789".getBytes(StandardCharsets.US_ASCII)));
    assertEquals("00000000", ContentDigest.of(new byte[0]));
  }

  @Test
  void fileRegionsInAnyChunkingGiveTheDigestOfTheirBytes() throws Exception {
    byte[] bytes = new byte[10_007];
    new Random(3).nextBytes(bytes);
    Path f = Files.write(tmp.resolve("data.bin"), bytes);
    String whole = ContentDigest.of(bytes);
    assertEquals(whole, ContentDigest.ofFile(f));
    byte[] part = java.util.Arrays.copyOfRange(bytes, 100, 9000);
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
      for (int chunk : new int[] {1, 7, 4096, 1 << 20}) {
        assertEquals(ContentDigest.of(part), ContentDigest.of(ch, 100, 8900, chunk), "chunk " + chunk);
      }
    }
    ByteBuffer b = ByteBuffer.wrap(bytes, 100, 8900);
    assertEquals(ContentDigest.of(part), ContentDigest.of(b));
    assertEquals(100, b.position(), "position left unchanged");
  }

  @Test
  void theWriterRecordsEachTensorsDigestAsTheFileHoldsIt() throws Exception {
    Path f = tmp.resolve("t.safetensors");
    float[] v = {1f, -2.5f, 3.25f, 65504f};
    java.util.Map<String, String> recorded;
    try (SafetensorsWriter w = SafetensorsWriter.create(f)) {
      w.addFloats("b", DType.F16, new long[] {4}, v);
      w.addLongs("a", DType.I64, new long[] {2}, new long[] {7, -1});
      w.addFloats("c", DType.F32, new long[] {4}, v);
      w.commit();
      recorded = w.digests();
    }
    try (SafetensorsFile in = SafetensorsFile.open(f)) {
      assertEquals(3, recorded.size());
      for (TensorInfo t : in.tensors()) {
        ByteBuffer data = in.map(t.name());
        byte[] raw = new byte[data.remaining()];
        data.get(raw);
        assertEquals(ContentDigest.of(raw), recorded.get(t.name()), t.name());
        assertEquals(recorded.get(t.name()), in.digest(t.name()), t.name());
      }
    }
  }
}
