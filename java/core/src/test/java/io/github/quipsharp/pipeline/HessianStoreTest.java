package io.github.quipsharp.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one Hessian file format and the local store: one tensor, or row blocks when one tensor would
 * pass a Java buffer; exact round trips; truncated or corrupt files refused naming the file; a
 * write that fails midway leaves no file.
 */
class HessianStoreTest {
  @TempDir Path tmp;

  static HessianSum random(int n) {
    SplittableRandom r = new SplittableRandom(3);
    double[] s = new double[n * n];
    for (int i = 0; i < s.length; i++) {
      s[i] = r.nextGaussian();
    }
    return new HessianSum(n, s, 1234);
  }

  @Test
  void rowBlocksRoundTripExactly() throws Exception {
    HessianSum h = random(40);
    Path blocks = tmp.resolve("blocks.safetensors");
    LocalHessianStore.writeFile(blocks, h, 1000); // 3 rows of 320 bytes per block: 14 blocks
    try (SafetensorsFile f = SafetensorsFile.open(blocks)) {
      assertEquals(14, f.tensors().size());
      assertEquals(1, f.info("sum.13").dim(0));
    }
    HessianSum back = LocalHessianStore.readFile(blocks);
    assertEquals(40, back.n());
    assertEquals(1234, back.tokens());
    assertArrayEquals(h.sum(), back.sum());
    Path one = tmp.resolve("one.safetensors");
    LocalHessianStore.writeFile(one, h);
    try (SafetensorsFile f = SafetensorsFile.open(one)) {
      assertTrue(f.contains("sum") && f.tensors().size() == 1);
      assertEquals("1234", f.metadata().get("tokens"));
    }
    assertArrayEquals(h.sum(), LocalHessianStore.readFile(one).sum());
  }

  @Test
  void theStoreKeepsEachGroupUnderItsNameAndKnowsWhenALayerIsComplete() throws Exception {
    LocalHessianStore store = new LocalHessianStore(tmp.resolve("hessians"));
    assertFalse(store.containsLayer(2));
    for (LinearGroup g : LinearGroup.values()) {
      assertFalse(store.containsLayer(2));
      HessianSum h = random(8 + g.ordinal());
      store.write(2, g, h);
      assertTrue(store.contains(2, g));
      HessianSum back = store.read(2, g);
      assertEquals(h.n(), back.n());
      assertEquals(h.tokens(), back.tokens());
      assertArrayEquals(h.sum(), back.sum());
    }
    assertTrue(store.containsLayer(2));
    assertFalse(store.containsLayer(1));
    assertEquals(tmp.resolve("hessians").resolve("2_qkv.safetensors"), store.file(2, LinearGroup.QKV));
  }

  @Test
  void missingRowBlocksAreRefused() throws Exception {
    Path bad = tmp.resolve("bad.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(bad, Map.of("tokens", "5"))) {
      w.addFloats("sum.0", DType.F64, new long[] {2, 4}, new float[8]);
      w.commit();
    }
    ModelFormatException e = assertThrows(ModelFormatException.class,
        () -> LocalHessianStore.readFile(bad));
    assertTrue(e.getMessage().contains("row blocks end at row 2 of 4"), e.getMessage());
    assertEquals(bad, e.file());
  }

  @Test
  void aTruncatedFileIsRefusedNamingIt() throws Exception {
    Path file = tmp.resolve("h.safetensors");
    LocalHessianStore.writeFile(file, random(16));
    byte[] whole = Files.readAllBytes(file);
    for (int keep : new int[] {whole.length - 8, whole.length / 2, 20, 4, 0}) {
      Path cut = tmp.resolve("cut-" + keep + ".safetensors");
      Files.write(cut, Arrays.copyOf(whole, keep));
      ModelFormatException e = assertThrows(ModelFormatException.class,
          () -> LocalHessianStore.readFile(cut), "kept " + keep + " bytes");
      assertEquals(cut, e.file());
      assertTrue(e.getMessage().startsWith(cut.toString()), e.getMessage());
    }
    ModelFormatException missing = assertThrows(ModelFormatException.class,
        () -> LocalHessianStore.readFile(tmp.resolve("none.safetensors")));
    assertTrue(missing.getMessage().contains("none.safetensors"), missing.getMessage());
  }

  @Test
  void aFileWithoutATokenCountOrWithAnotherTensorIsNotAHessian() throws Exception {
    Path noTokens = tmp.resolve("no-tokens.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(noTokens)) {
      w.add("sum", DType.F64, new long[] {2, 2}, java.nio.ByteBuffer.allocate(32));
      w.commit();
    }
    ModelFormatException e = assertThrows(ModelFormatException.class,
        () -> LocalHessianStore.readFile(noTokens));
    assertTrue(e.getMessage().contains("no token count"), e.getMessage());
    Path other = tmp.resolve("other.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(other, Map.of("tokens", "3"))) {
      w.addFloats("weight", DType.F32, new long[] {2, 2}, new float[4]);
      w.commit();
    }
    e = assertThrows(ModelFormatException.class, () -> LocalHessianStore.readFile(other));
    assertTrue(e.getMessage().contains("not a Hessian file"), e.getMessage());
    Path notSquare = tmp.resolve("not-square.safetensors");
    try (SafetensorsWriter w = SafetensorsWriter.create(notSquare, Map.of("tokens", "3"))) {
      w.add("sum", DType.F64, new long[] {2, 3}, java.nio.ByteBuffer.allocate(48));
      w.commit();
    }
    e = assertThrows(ModelFormatException.class, () -> LocalHessianStore.readFile(notSquare));
    assertEquals(notSquare, e.file());
  }

  /**
   * A write that fails after its first row block (the sum array is shorter than n x n, so the
   * second block cannot be filled) leaves neither the target nor a temporary file, and an earlier
   * complete file under that name is kept as it was.
   */
  @Test
  void aWriteThatFailsMidwayLeavesNoHalfFile() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("store"));
    Path target = dir.resolve("0_qkv.safetensors");
    HessianSum broken = new HessianSum(40, new double[40 * 20], 7);
    assertThrows(IndexOutOfBoundsException.class,
        () -> LocalHessianStore.writeFile(target, broken, 1000));
    try (var entries = Files.list(dir)) {
      assertEquals(0, entries.count(), "a failed write left files behind");
    }
    HessianSum good = random(40);
    LocalHessianStore.writeFile(target, good, 1000);
    byte[] before = Files.readAllBytes(target);
    assertThrows(IndexOutOfBoundsException.class,
        () -> LocalHessianStore.writeFile(target, broken, 1000));
    assertArrayEquals(before, Files.readAllBytes(target), "the complete file was replaced");
    try (var entries = Files.list(dir)) {
      assertEquals(1, entries.count());
    }
  }
}
