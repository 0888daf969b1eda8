package io.github.quipsharp;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.WeightSpec;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.HalfFloat;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A Llama-shaped model with random weights for speed and scale work (the real model here is tiny):
 * linear weights and embeddings N(0, 0.02²), norms 1, written as a Hugging Face folder
 * (config.json, model.safetensors) with a byte-level llama2.c tokenizer ({@code tokenizer.bin}:
 * BOS/EOS, the 256 byte tokens, printable ASCII, then letter pairs) when the vocabulary has room
 * for the byte tokens.
 */
public final class SyntheticModel {
  /** Standard deviation of the random weights. */
  public static final double WEIGHT_SD = 0.02;

  private SyntheticModel() {}

  /** Progress: called after each tensor with its name. */
  public interface Progress {
    void tensorWritten(String name, int done, int total);
  }

  public static void write(Path out, LlamaConfig c, DType dtype, long seed, Progress progress)
      throws IOException {
    if (dtype != DType.F16 && dtype != DType.F32 && dtype != DType.BF16) {
      throw new IllegalArgumentException("dtype " + dtype + " must be f16, bf16 or f32");
    }
    // A new or empty folder only: an unrelated tokenizer.json left there would become this
    // model's tokenizer (tokenizer.json is looked for before tokenizer.bin).
    OutputFolders.createEmpty(out, out, "--out");
    List<WeightSpec> tensors = WeightSpec.all(c);
    try (SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"),
        Map.of("format", "pt", "generator", "quipsharp synth-model seed " + seed))) {
      for (int i = 0; i < tensors.size(); i++) {
        String name = tensors.get(i).name();
        long[] shape = tensors.get(i).shape();
        boolean norm = tensors.get(i).role().isNorm();
        long count = 1;
        for (long d : shape) {
          count *= d;
        }
        ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(count * dtype.byteSize()))
            .order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + i);
        for (long k = 0; k < count; k += 2) {
          // Box-Muller: two normals per pair of uniforms.
          double u = 1.0 - rnd.nextDouble();
          double v = rnd.nextDouble();
          double r = Math.sqrt(-2 * Math.log(u)) * WEIGHT_SD;
          put(b, dtype, k, norm ? 1f : (float) (r * Math.cos(2 * Math.PI * v)));
          if (k + 1 < count) {
            put(b, dtype, k + 1, norm ? 1f : (float) (r * Math.sin(2 * Math.PI * v)));
          }
        }
        w.add(name, dtype, shape, b);
        if (progress != null) {
          progress.tensorWritten(name, i + 1, tensors.size());
        }
      }
      w.commit();
    }
    if (c.vocabSize() >= 259) {
      AtomicFiles.write(out.resolve("tokenizer.bin"), byteTokenizer(c.vocabSize()));
    }
    byte[] config = new ObjectMapper().writerWithDefaultPrettyPrinter()
        .writeValueAsBytes(c.toHuggingFace().put("torch_dtype", dtype == DType.F16 ? "float16"
            : dtype == DType.BF16 ? "bfloat16" : "float32"));
    AtomicFiles.write(out.resolve("config.json"), config);
  }

  private static void put(ByteBuffer b, DType dtype, long index, float v) {
    int i = (int) index;
    switch (dtype) {
      case F32 -> b.putFloat(4 * i, v);
      case F16 -> b.putShort(2 * i, HalfFloat.fromFloat(v));
      default -> b.putShort(2 * i, HalfFloat.bf16FromFloat(v));
    }
  }

  /** A llama2.c tokenizer of exactly {@code vocab} tokens (vocab >= 259). */
  static byte[] byteTokenizer(int vocab) {
    List<String> pieces = new ArrayList<>();
    pieces.add("<unk>");
    pieces.add("\n<s>\n");
    pieces.add("\n</s>\n");
    for (int b = 0; b < 256; b++) {
      pieces.add(String.format("<0x%02X>", b));
    }
    for (char ch = 32; ch < 127 && pieces.size() < vocab; ch++) {
      pieces.add(String.valueOf(ch));
    }
    String letters = " etaoinshrdlucmfwypvbgkqjxz";
    outer:
    for (int a = 0; a < letters.length(); a++) {
      for (int z = 0; z < letters.length(); z++) {
        if (pieces.size() >= vocab) {
          break outer;
        }
        pieces.add("" + letters.charAt(a) + letters.charAt(z));
      }
    }
    for (int k = 0; pieces.size() < vocab; k++) {
      pieces.add("<extra_" + k + ">");
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int maxLen = 0;
    for (String p : pieces) {
      maxLen = Math.max(maxLen, p.getBytes(StandardCharsets.UTF_8).length);
    }
    ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(maxLen);
    bytes.writeBytes(head.array());
    for (int id = 0; id < pieces.size(); id++) {
      byte[] s = pieces.get(id).getBytes(StandardCharsets.UTF_8);
      // Longer pieces merge first: score = length, then earlier ids.
      float score = id < 259 ? 0f : s.length * 1000f - id;
      ByteBuffer e = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      e.putFloat(score).putInt(s.length);
      bytes.writeBytes(e.array());
      bytes.writeBytes(s);
    }
    return bytes.toByteArray();
  }
}
