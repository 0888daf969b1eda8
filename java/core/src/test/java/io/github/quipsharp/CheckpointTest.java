package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.SettingsDiff;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.Tensor;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Quantize → save → load, determinism, and resume after kill -9 (a forked JVM). */
class CheckpointTest {
  static final int[] TOKENS = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421};

  @TempDir Path tmp;

  static QuantConfig cfg(int bits) {
    return QuantConfig.builder().bits(bits).seed(7).build();
  }

  static ModelQuantizer.Options small() {
    return ModelQuantizer.Options.builder().ctx(256).samples(24).build();
  }

  /**
   * The loaded checkpoint equals an fp model whose linear weights are the checkpoint's decoded
   * matrices (read back through {@link QuantizedLinear}, independent of the engine's quantized
   * path), and the stored codes equal the quantizer's for the same seed.
   */
  @Test
  void savedCheckpointLoadsAsTheQuantizedWeights() throws IOException {
    StoriesFixture f = StoriesFixture.load();
    for (int bits = 2; bits <= 4; bits++) {
      Path out = tmp.resolve("b" + bits);
      QuantizationInfo info = ModelQuantizer.quantize(f.model, f.calibration, cfg(bits), out, small());
      assertEquals(20, info.layers().size());
      assertFalse(Files.exists(out.resolve(ModelQuantizer.PARTIAL)), "partial files removed");
      assertTrue(Files.exists(out.resolve("tok512.bin")), "tokenizer copied");
      Path dense = tmp.resolve("dense" + bits);
      writeDecodedModel(f.model, out, dense);
      try (LlamaModel q = LlamaModel.load(out); LlamaModel d = LlamaModel.load(dense)) {
        assertEquals(bits, q.quantization().config().bits());
        float[] lq = q.forward(TOKENS, 0, true);
        float[] ld = d.forward(TOKENS, 0, true);
        double worst = 0;
        double max = 0;
        for (int i = 0; i < lq.length; i++) {
          worst = Math.max(worst, Math.abs(lq[i] - ld[i]));
          max = Math.max(max, Math.abs(ld[i]));
        }
        assertTrue(worst <= 1e-4 * max, bits + " bits: max |Δlogit| " + worst + " of " + max);
        // Loading twice gives bit-identical outputs.
        try (LlamaModel q2 = LlamaModel.load(out)) {
          assertArrayEquals(lq, q2.forward(TOKENS, 0, true));
        }
      }
      QuantizationInfo read = QuantizedCheckpoint.readInfo(out);
      assertEquals(info.layers(), read.layers());
      assertEquals(info.config(), read.config());
    }
  }

  /** An fp HF folder whose linear weights are the decoded Ŵ of the checkpoint's groups. */
  static void writeDecodedModel(Path fpModel, Path ckpt, Path out) throws IOException {
    QuantizationInfo info = QuantizedCheckpoint.readInfo(ckpt);
    Files.createDirectories(out);
    try (ModelSource src = ModelSource.open(fpModel);
        SafetensorsFile q = SafetensorsFile.open(ckpt.resolve("model.safetensors"));
        SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"), Map.of())) {
      LlamaConfig c = src.config();
      List<String> names = new ArrayList<>(List.of("model.embed_tokens.weight", "model.norm.weight"));
      for (int l = 0; l < c.layers(); l++) {
        names.add("model.layers." + l + ".input_layernorm.weight");
        names.add("model.layers." + l + ".post_attention_layernorm.weight");
      }
      for (String n : names) {
        w.addFloats(n, DType.F32, q.info(n).shape(), q.readFloats(n));
      }
      for (LayerReport r : info.layers()) {
        String p = "model.layers." + r.layer() + "." + r.group().checkpointName() + ".";
        QuantShape s = r.shape();
        int[] codes = QuantizedLinear.unpackCodes(q.readLongs(p + "Qidxs"), s, info.config());
        try (QuantizedLinear ql = QuantizedLinear.fromParts(s.rows(), s.cols(), info.config(), codes,
            q.readFloats(p + "SU"), q.readFloats(p + "SV"), q.readScalarFloat(p + "Wscale"))) {
          float[] dec = ql.decode();
          String[] members = r.group().members();
          float[] fuse = members.length > 1 ? q.readFloats(p + "fuse_scales") : new float[] {1f};
          int row = 0;
          for (int i = 0; i < members.length; i++) {
            String name = "model.layers." + r.layer() + "." + members[i] + ".weight";
            Tensor t = src.tensor(name);
            int rows = (int) t.shape()[0];
            float[] part = new float[rows * s.cols()];
            for (int j = 0; j < part.length; j++) {
              part[j] = dec[row * s.cols() + j] * fuse[i];
            }
            row += rows;
            w.addFloats(name, DType.F32, t.shape(), part);
          }
        }
      }
      w.commit();
    }
    Files.copy(fpModel.resolve("config.json"), out.resolve("config.json"));
  }

  @Test
  void sameSettingsGiveByteIdenticalCheckpoints() throws IOException {
    StoriesFixture f = StoriesFixture.load();
    ModelQuantizer.quantize(f.model, f.calibration, cfg(2), tmp.resolve("x"), small());
    ModelQuantizer.quantize(f.model, f.calibration, cfg(2), tmp.resolve("y"), small());
    for (String file : new String[] {"model.safetensors", "config.json"}) {
      assertArrayEquals(Files.readAllBytes(tmp.resolve("x").resolve(file)),
          Files.readAllBytes(tmp.resolve("y").resolve(file)), file);
    }
  }

  /** Run by the forked JVM: quantizes slowly (a pause after each group) until killed. */
  public static void main(String[] args) throws Exception {
    StoriesFixture f = StoriesFixture.load();
    ProgressListener slow = new ProgressListener() {
      @Override
      public void layerFinished(LayerReport r, int index, int total, boolean resumed) {
        try {
          Thread.sleep(400);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    };
    ModelQuantizer.quantize(f.model, f.calibration, cfg(2), Path.of(args[0]),
        ModelQuantizer.Options.builder().ctx(256).samples(24).listener(slow).build());
  }

  @Test
  void killedRunResumesToTheSameCheckpoint() throws Exception {
    StoriesFixture f = StoriesFixture.load();
    Path killed = tmp.resolve("killed");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-cp", SharedModels.forkClassPath(),
        CheckpointTest.class.getName(), killed.toString())
        .redirectErrorStream(true).redirectOutput(tmp.resolve("fork.log").toFile()).start();
    Path layers = killed.resolve(ModelQuantizer.PARTIAL).resolve("layers");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (count(layers) < 5 && p.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertTrue(p.isAlive(), "the fork ended before it was killed: " + Files.readString(tmp.resolve("fork.log")));
    p.destroyForcibly(); // SIGKILL: no shutdown hooks, no cleanup
    p.waitFor();
    int done = count(layers);
    assertTrue(done >= 5 && done < 20, done + " groups finished before the kill");
    assertFalse(Files.exists(killed.resolve("config.json")), "no checkpoint before the end");
    // Without --resume the interrupted run is refused, and left alone.
    InterruptedRunException e = org.junit.jupiter.api.Assertions.assertThrows(
        InterruptedRunException.class,
        () -> ModelQuantizer.quantize(f.model, f.calibration, cfg(2), killed, small()));
    assertEquals(killed.toString(), e.folder());
    assertTrue(e.getMessage().contains("interrupted run; resume it"), e.getMessage());
    assertFalse(e.getMessage().contains("--"), "the core names no flag: " + e.getMessage());
    // Other settings cannot resume it either.
    ResumeMismatchException m = org.junit.jupiter.api.Assertions.assertThrows(
        ResumeMismatchException.class,
        () -> ModelQuantizer.quantize(f.model, f.calibration, cfg(3), killed,
            ModelQuantizer.Options.builder().ctx(256).samples(24).resume(true).build()));
    assertTrue(m.getMessage().contains("other settings"), m.getMessage());
    assertTrue(m.getMessage().contains("quant_config.bits was 2, now 3"), m.getMessage());
    assertFalse(m.getMessage().contains("--"), "the core names no flag: " + m.getMessage());
    assertTrue(m.differences().contains(
        new SettingDifference("quant_config.bits", "quant_config.bits", "was 2, now 3")),
        m.differences().toString());
    int[] resumed = {0};
    ModelQuantizer.quantize(f.model, f.calibration, cfg(2), killed,
        ModelQuantizer.Options.builder().ctx(256).samples(24).resume(true)
            .listener(new ProgressListener() {
              @Override
              public void layerFinished(LayerReport r, int index, int total, boolean wasSaved) {
                resumed[0] += wasSaved ? 1 : 0;
              }
            }).build());
    assertTrue(resumed[0] >= done, "finished groups were reused: " + resumed[0]);
    Path clean = tmp.resolve("clean");
    ModelQuantizer.quantize(f.model, f.calibration, cfg(2), clean, small());
    for (String file : new String[] {"model.safetensors", "config.json", "tok512.bin"}) {
      assertArrayEquals(Files.readAllBytes(clean.resolve(file)), Files.readAllBytes(killed.resolve(file)),
          file + " of the resumed run");
    }
  }

  static int count(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (var s = Files.list(dir)) {
      return (int) s.filter(x -> x.toString().endsWith(".safetensors")).count();
    }
  }

  static ByteBuffer le(int bytes) {
    return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
  }
}
