package io.github.quipsharp.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stale temporary files are removed by the next write; those of live writers are not. */
class TemporaryFilesTest {
  @TempDir Path tmp;

  static Path old(Path p) throws Exception {
    Files.write(p, new byte[] {1, 2, 3});
    Files.setLastModifiedTime(p, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
    return p;
  }

  @Test
  void aKilledWritersFilesGoOthersStay() throws Exception {
    Path staging = old(tmp.resolve("model.safetensors.tmp-9f3c1a7be2d4c6a8.data"));
    Path output = old(tmp.resolve("config.json.tmp-1234567890123456789"));
    Path notOurs = old(tmp.resolve("notes.tmp"));
    Path fresh = tmp.resolve("x.safetensors.tmp-abcdef.data");
    Files.write(fresh, new byte[] {1}); // just created: a writer may be about to lock it
    try (SafetensorsWriter w = SafetensorsWriter.create(tmp.resolve("x.safetensors"))) {
      w.addLongs("a", DType.I64, new long[] {1}, new long[] {1});
      w.commit();
    }
    assertFalse(Files.exists(staging));
    assertFalse(Files.exists(output));
    assertTrue(Files.exists(notOurs));
    assertTrue(Files.exists(fresh));
  }

  @Test
  void aLiveWriterInThisJvmKeepsItsFiles() throws Exception {
    Path target = tmp.resolve("a.safetensors");
    try (SafetensorsWriter first = SafetensorsWriter.create(target)) {
      first.addLongs("a", DType.I64, new long[] {2}, new long[] {1, 2});
      Path staging = only(tmp);
      Files.setLastModifiedTime(staging, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
      try (SafetensorsWriter second = SafetensorsWriter.create(tmp.resolve("b.safetensors"))) {
        second.commit();
      }
      assertEquals(0, TemporaryFiles.removeStale(tmp), "nothing to remove");
      assertTrue(Files.exists(staging), "the first writer's staging file is kept");
      first.commit();
    }
    try (SafetensorsFile f = SafetensorsFile.open(target)) {
      assertEquals(2, f.readLongs("a")[1]);
    }
  }

  @Test
  void aFileLockedByAnotherProcessStays() throws Exception {
    Path held = tmp.resolve("m.safetensors.tmp-0123456789abcdef.data");
    Files.write(held, new byte[] {1});
    Path ready = tmp.resolve("ready");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-cp", io.github.quipsharp.testing.SharedModels.forkClassPath(),
        LockHolder.class.getName(), held.toString(), ready.toString()).inheritIO().start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!Files.exists(ready) && p.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(Files.exists(ready), "the other process holds the lock");
      Files.setLastModifiedTime(held, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
      assertEquals(0, TemporaryFiles.removeStale(tmp));
      assertTrue(Files.exists(held));
    } finally {
      p.destroyForcibly();
      p.waitFor();
    }
    // Its holder is gone (as after kill -9): now it is stale.
    assertEquals(1, TemporaryFiles.removeStale(tmp));
    assertFalse(Files.exists(held));
  }

  static Path only(Path dir) throws Exception {
    try (var s = Files.list(dir)) {
      return s.filter(f -> f.getFileName().toString().contains(".tmp-")).findFirst().orElseThrow();
    }
  }

  /** Run in another JVM: locks the file, says so, and waits to be killed. */
  public static final class LockHolder {
    public static void main(String[] args) throws Exception {
      try (FileChannel ch = FileChannel.open(Path.of(args[0]), StandardOpenOption.WRITE)) {
        ch.lock();
        Files.write(Path.of(args[1]), new byte[0]);
        Thread.sleep(60_000);
      }
    }
  }
}
