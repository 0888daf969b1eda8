package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.HalfFloat;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import io.github.quipsharp.safetensors.TensorInfo;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The other model layouts the loader accepts, each against stories260K: sharded safetensors with an
 * index, bf16 and fp16 weights, and the llama2.c variant with an unshared classifier.
 */
class ModelFormatsTest {
  static final int[] TOKENS = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};

  @TempDir Path tmp;

  static float[] logits(Path model) {
    try (LlamaModel m = LlamaModel.load(model)) {
      return m.forward(TOKENS, 0, true);
    }
  }

  /** Rewrites the HF model's tensors through {@code values} into {@code dtype}, split in shards. */
  static void rewrite(Path src, Path dst, DType dtype, UnaryOperator<float[]> values, int shards)
      throws IOException {
    Files.createDirectories(dst);
    Files.copy(src.resolve("config.json"), dst.resolve("config.json"));
    Files.copy(src.resolve("tok512.bin"), dst.resolve("tok512.bin"));
    try (SafetensorsFile f = SafetensorsFile.open(src.resolve("model.safetensors"))) {
      List<TensorInfo> all = f.tensors();
      StringBuilder index = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
      for (int s = 0; s < shards; s++) {
        String name = shards == 1 ? "model.safetensors"
            : String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
        try (SafetensorsWriter w = SafetensorsWriter.create(dst.resolve(name), Map.of())) {
          for (int i = s; i < all.size(); i += shards) {
            TensorInfo t = all.get(i);
            w.addFloats(t.name(), dtype, t.shape(), values.apply(f.readFloats(t.name())));
            index.append(index.charAt(index.length() - 1) == '{' ? "" : ", ")
                .append('"').append(t.name()).append("\": \"").append(name).append('"');
          }
          w.commit();
        }
      }
      if (shards > 1) {
        Files.writeString(dst.resolve("model.safetensors.index.json"), index.append("}}").toString());
      }
    }
  }

  static float[] rounded(float[] v, boolean bf16) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = bf16 ? HalfFloat.bf16ToFloat(HalfFloat.bf16FromFloat(v[i]))
          : HalfFloat.toFloat(HalfFloat.fromFloat(v[i]));
    }
    return out;
  }

  @Test
  void shardedSafetensorsEqualTheSingleFile() throws IOException {
    Path hf = SharedModels.require("stories260K-hf");
    Path sharded = tmp.resolve("sharded");
    rewrite(hf, sharded, DType.F32, v -> v, 3);
    assertTrue(Files.exists(sharded.resolve("model-00003-of-00003.safetensors")));
    assertArrayEquals(logits(hf), logits(sharded));
  }

  @Test
  void bf16WeightsLoadExactlyAsTheirFp32Values() throws IOException {
    Path hf = SharedModels.require("stories260K-hf");
    Path bf16 = tmp.resolve("bf16");
    Path widened = tmp.resolve("widened");
    rewrite(hf, bf16, DType.BF16, v -> v, 1);
    rewrite(hf, widened, DType.F32, v -> rounded(v, true), 1);
    // bf16 is stored as fp32 in the engine: bit-identical to the widened fp32 model.
    assertArrayEquals(logits(widened), logits(bf16));
  }

  @Test
  void fp16WeightsMatchTheirFp32Values() throws IOException {
    Path hf = SharedModels.require("stories260K-hf");
    Path f16 = tmp.resolve("f16");
    Path widened = tmp.resolve("widened16");
    rewrite(hf, f16, DType.F16, v -> v, 1);
    rewrite(hf, widened, DType.F32, v -> rounded(v, false), 1);
    // fp16 stays fp16 (other kernels, other summation order): equal up to float rounding.
    float[] a = logits(widened);
    float[] b = logits(f16);
    double worst = 0;
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
      max = Math.max(max, Math.abs(a[i]));
    }
    assertTrue(worst <= 1e-5 * max, "max |Δ| " + worst + " of " + max);
  }

  @Test
  void llama2cUnsharedClassifierVariant() throws IOException {
    Path bin = SharedModels.require("stories260K/stories260K.bin");
    byte[] bytes = Files.readAllBytes(bin);
    ByteBuffer h = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int dim = h.getInt(0);
    int vocab = h.getInt(20);
    // Negative vocab size, and the classifier (a copy of the embedding) appended at the end.
    ByteBuffer out = ByteBuffer.allocate(bytes.length + vocab * dim * 4).order(ByteOrder.LITTLE_ENDIAN);
    out.put(bytes);
    out.putInt(20, -vocab);
    out.position(bytes.length);
    out.put(bytes, 28, vocab * dim * 4);
    Path unshared = tmp.resolve("unshared.bin");
    Files.write(unshared, out.array());
    Files.copy(bin.resolveSibling("tok512.bin"), tmp.resolve("tok512.bin"));
    try (LlamaModel m = LlamaModel.load(unshared)) {
      assertTrue(!m.config().tiedEmbeddings());
    }
    assertArrayEquals(logits(bin), logits(unshared));
  }
}
