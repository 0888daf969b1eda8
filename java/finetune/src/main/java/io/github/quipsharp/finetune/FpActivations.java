package io.github.quipsharp.finetune;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The fp model's hidden states on the calibration windows, computed one block at a time (only
 * that block's fp weights are in memory) from one {@link ActivationFile} into the next: the inputs
 * and targets of blockwise tuning (§6.2) and the teacher states of end-to-end tuning (§6.3).
 */
final class FpActivations {
  private static final ObjectMapper JSON = new ObjectMapper();

  private FpActivations() {}

  /** The embeddings of every window (times the family's embedding scale) into {@code out}, in batches. */
  static void embed(ModelSource src, Windows w, ActivationFile out, int batch) {
    try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
      Tensor embed = Torch.toScope(Torch.of(src.tensor("model.embed_tokens.weight"), ScalarType.Float));
      forBatches(w.tokens().length, batch, idx -> {
        try (PointerScope s = new PointerScope()) {
          out.write(idx[0], TorchLlama.embedTokens(src.config(), embed, w.batch(idx)));
        }
      });
    }
  }

  /** Runs the fp block {@code layer} over every window of {@code in} into {@code out}. */
  static void advance(ModelSource src, int layer, ActivationFile in, ActivationFile out, int batch) {
    try (PointerScope scope = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
      TorchLlama.Block fp = TorchLlama.Block.fromSource(src, layer, ScalarType.Float);
      TorchLlama.Rope rope = new TorchLlama.Rope(src.config(), ScalarType.Float);
      forBatches(in.windows(), batch, idx -> {
        try (PointerScope s = new PointerScope()) {
          out.write(idx[0], fp.forward(in.read(idx), rope));
        }
      });
      fp.free();
    }
  }

  private static void forBatches(int n, int batch, java.util.function.Consumer<int[]> body) {
    for (int from = 0; from < n; from += batch) {
      body.accept(IntStream.range(from, Math.min(n, from + batch)).toArray());
    }
  }

  /**
   * The fp model's last hidden states (before the final norm) of every window, in
   * {@code dir/teacher-states.f32}: computed unless a complete file is there (its marker
   * {@code teacher-states.json} is written last; {@code dir} belongs to one run's settings).
   */
  static ActivationFile finalStates(ModelSource src, Windows w, Path dir, int batch,
      ProgressListener listener) throws IOException {
    LlamaConfig c = src.config();
    int n = w.tokens().length;
    Path file = dir.resolve("teacher-states.f32");
    Path marker = dir.resolve("teacher-states.json");
    if (Files.exists(marker) && Files.exists(file)) {
      return ActivationFile.open(file, n, w.ctx(), c.dim());
    }
    long start = System.nanoTime();
    Path a = dir.resolve("fp-states-a.tmp");
    Path b = dir.resolve("fp-states-b.tmp");
    ActivationFile cur = ActivationFile.create(a, n, w.ctx(), c.dim());
    embed(src, w, cur, batch);
    for (int l = 0; l < c.layers(); l++) {
      ActivationFile next = ActivationFile.create(cur.path().equals(a) ? b : a, n, w.ctx(), c.dim());
      advance(src, l, cur, next, batch);
      cur.close();
      cur = next;
    }
    cur.force();
    cur.close();
    Files.move(cur.path(), file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    Files.deleteIfExists(cur.path().equals(a) ? b : a);
    ObjectNode o = JSON.createObjectNode();
    o.put("windows", n);
    o.put("ctx", w.ctx());
    o.put("dim", c.dim());
    AtomicFiles.write(marker, JSON.writeValueAsBytes(o));
    listener.info(String.format(java.util.Locale.ROOT, "teacher: fp hidden states of %d windows "
        + "computed block by block in %.1f s (%s, %.1f MB on disk)", n,
        (System.nanoTime() - start) / 1e9, file, Files.size(file) / 1e6));
    return ActivationFile.open(file, n, w.ctx(), c.dim());
  }
}
