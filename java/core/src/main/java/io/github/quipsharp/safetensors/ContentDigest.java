package io.github.quipsharp.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * The digest that checkpoints and run folders record of tensors and files: CRC32C (the JDK's
 * {@link CRC32C}, which runs on the CPU's CRC instructions), written as 8 lowercase hex digits.
 *
 * <p>It guards against accidents — a flipped byte, a truncated copy, two files swapped, a folder
 * replaced by another model's — not against tampering: a 32-bit checksum is easy to forge. It was
 * chosen for speed: measured on the development machine (AMD EPYC Zen 4, 2 vCPUs, JDK 17, 512 MiB
 * in memory) at 7–26 GB/s, against 0.9–1.3 GB/s for SHA-256 and 2.6–4.6 GB/s for Guava's
 * murmur3_128, so that verifying a checkpoint costs a small fraction of loading it.
 */
public final class ContentDigest {
  /** The algorithm's name as recorded next to the digests. */
  public static final String ALGORITHM = "crc32c";

  /** Bytes mapped at a time when a file region is digested. */
  private static final long CHUNK = 1L << 28;

  private ContentDigest() {}

  /** The digest of {@code data}'s remaining bytes (its position is left unchanged). */
  public static String of(ByteBuffer data) {
    CRC32C crc = new CRC32C();
    crc.update(data.duplicate());
    return hex(crc.getValue());
  }

  /** The digest of {@code bytes}. */
  public static String of(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes);
    return hex(crc.getValue());
  }

  /** The digest of {@code length} bytes of {@code channel} from {@code begin}, mapped in parts. */
  public static String of(FileChannel channel, long begin, long length) throws IOException {
    CRC32C crc = new CRC32C();
    for (long done = 0; done < length; ) {
      long n = Math.min(CHUNK, length - done);
      crc.update(channel.map(FileChannel.MapMode.READ_ONLY, begin + done, n));
      done += n;
    }
    return hex(crc.getValue());
  }

  /** The digest of a whole file. */
  public static String ofFile(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return of(ch, 0, ch.size());
    }
  }

  /** A running CRC32C as 8 hex digits. */
  static String hex(long crc) {
    return String.format(Locale.ROOT, "%08x", crc);
  }
}
