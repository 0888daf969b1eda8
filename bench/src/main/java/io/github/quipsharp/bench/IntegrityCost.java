package io.github.quipsharp.bench;

import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.LoadOptions;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.safetensors.ContentDigest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What the integrity checks cost: loading a quantized checkpoint with and without verifying its
 * digests, verifying it alone, and hashing a model file as {@code quantize} does for its run.json.
 *
 * <pre>java -cp bench/target/benchmarks.jar io.github.quipsharp.bench.IntegrityCost CHECKPOINT
 *     [MODEL_FILE] [REPEATS]</pre>
 */
public final class IntegrityCost {
  private IntegrityCost() {}

  public static void main(String[] args) throws Exception {
    Path checkpoint = Path.of(args[0]);
    int repeats = args.length > 2 ? Integer.parseInt(args[2]) : 4;
    for (int rep = 0; rep < repeats; rep++) {
      for (boolean verify : new boolean[] {true, false}) {
        long t = System.nanoTime();
        try (LlamaModel m = LlamaModel.load(checkpoint,
            verify ? LoadOptions.DEFAULT : LoadOptions.DEFAULT.withoutVerification())) {
          System.out.printf(Locale.ROOT, "load, %s: %.3f s%n", verify ? "verified" : "not verified",
              (System.nanoTime() - t) / 1e9);
        }
      }
      long t = System.nanoTime();
      QuantizedCheckpoint.Verification v = QuantizedCheckpoint.verify(checkpoint);
      double s = (System.nanoTime() - t) / 1e9;
      System.out.printf(Locale.ROOT, "verify alone: %d tensors, %,d bytes in %.3f s (%.2f GB/s)%n",
          v.tensors(), v.bytes(), s, v.bytes() / s / 1e9);
      if (args.length > 1) {
        Path file = Path.of(args[1]);
        t = System.nanoTime();
        ContentDigest.ofFile(file);
        s = (System.nanoTime() - t) / 1e9;
        System.out.printf(Locale.ROOT, "digest of %s: %,d bytes in %.3f s (%.2f GB/s)%n", file,
            Files.size(file), s, Files.size(file) / s / 1e9);
      }
    }
  }
}
