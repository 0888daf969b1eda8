package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.internal.QuantizedGroup;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.WeightSpec;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.HalfFloat;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every family at 2 bits (issue 19 §2): the transformers-written fixtures quantized with Hessians of
 * random calibration token windows (the fixtures have no tokenizer), once with BlockLDLQ and once
 * with nearest rounding (both after the RHT, same seed); the checkpoint keeps the family's config
 * and its fp16 biases and extra norms, and computes exactly what its decoded weights compute.
 */
class FamilyQuantizationTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final int CTX = 32;

  @TempDir static Path tmp;

  /** 24 windows of 32 random ids of the fixtures' 96-token vocabulary. */
  static int[] calibration() {
    Random rnd = new Random(11);
    int[] ids = new int[24 * CTX];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = rnd.nextInt(96);
    }
    return ids;
  }

  private static final Map<String, Path> LDLQ = new HashMap<>();

  /** The 2-bit BlockLDLQ checkpoint of a fixture (made once per test run). */
  static synchronized Path checkpoint(String name) {
    return LDLQ.computeIfAbsent(name, n -> {
      Path out = tmp.resolve(n + "-ldlq");
      quantize(n, Rounding.BLOCK_LDLQ, out);
      return out;
    });
  }

  static QuantizationInfo quantize(String name, Rounding rounding, Path out) {
    QuantConfig cfg = QuantConfig.builder().bits(2).seed(3).rounding(rounding).build();
    return ModelQuantizer.quantize(FamilyFixturesTest.fixture(name), calibration(), cfg, out,
        ModelQuantizer.Options.builder().ctx(CTX).build());
  }

  /**
   * BlockLDLQ's relative proxy loss tr((W-Ŵ)H(W-Ŵ)ᵀ)/tr(WHWᵀ) is below nearest rounding's for every
   * layer group of every family (QUIPSHARP.md §5, §10.4 invariant 3).
   */
  @ParameterizedTest
  @ValueSource(strings = {"llama", "llama-bias", "llama3", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"})
  void blockLdlqBeatsNearestRoundingAtTwoBits(String name) throws IOException {
    QuantizationInfo ldlq = QuantizedCheckpoint.readInfo(checkpoint(name));
    QuantizationInfo nearest = quantize(name, Rounding.NEAREST, tmp.resolve(name + "-nearest"));
    assertEquals(nearest.layers().size(), ldlq.layers().size());
    double sumL = 0;
    double sumN = 0;
    StringBuilder report = new StringBuilder(name + " 2-bit relative proxy loss, BlockLDLQ / nearest:");
    for (int i = 0; i < ldlq.layers().size(); i++) {
      LayerReport a = ldlq.layers().get(i);
      LayerReport b = nearest.layers().get(i);
      assertEquals(a.name(), b.name());
      report.append(String.format(Locale.ROOT, " %s %.4f/%.4f", a.name(), a.relativeProxyLoss(),
          b.relativeProxyLoss()));
      assertTrue(a.relativeProxyLoss() < b.relativeProxyLoss(), name + " " + a.name() + ": BlockLDLQ "
          + a.relativeProxyLoss() + " >= nearest " + b.relativeProxyLoss());
      sumL += a.relativeProxyLoss();
      sumN += b.relativeProxyLoss();
    }
    System.out.println(report + String.format(Locale.ROOT, "; mean %.4f/%.4f", sumL / ldlq.layers().size(),
        sumN / ldlq.layers().size()));
  }

  /**
   * The 2-bit checkpoint of every family loads back with the fixture's config (architecture and RoPE
   * settings kept in config.json), its biases and extra norms are the source's values in fp16, and
   * its logits equal those of an fp32 model of the same family whose linear weights are the
   * checkpoint's decoded weights (Ŵ of §8.5, written under the family's own tensor names, Phi-3's
   * fused ones included): so every family option acts on quantized groups as on dense ones. The
   * prefill of 20 tokens multiplies decoded weights (float rounding only: bound 1e-5 of the largest
   * logit; measured <= 5e-7); token by token runs the codebook mat-vec kernels, which round the
   * rotated input to 16-bit integers here (2^-14 relative per input; measured <= 1.3e-4 through the
   * 2-3 layers; bound 1e-3).
   */
  @ParameterizedTest
  @ValueSource(strings = {"llama-bias", "llama3", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"})
  void twoBitCheckpointKeepsTheFamilyAndRunsItsDecodedWeights(String name) throws IOException {
    Path fixture = FamilyFixturesTest.fixture(name);
    Path q = checkpoint(name);
    JsonNode fp = JSON.readTree(fixture.resolve("config.v4.json").toFile());
    JsonNode ck = JSON.readTree(q.resolve("config.json").toFile());
    assertEquals(fp.get("architectures"), ck.get("architectures"));
    assertEquals(fp.get("rope_theta").asDouble(), ck.get("rope_theta").asDouble(), "rope_theta");
    JsonNode scaling = fp.path("rope_scaling");
    for (var it = scaling.fields(); it.hasNext(); ) {
      var e = it.next();
      JsonNode got = ck.path("rope_scaling").get(e.getKey());
      assertTrue(got != null && (e.getValue().isNumber() ? got.asDouble() == e.getValue().asDouble()
          : got.asText().equals(e.getValue().asText())), "rope_scaling." + e.getKey() + ": " + ck);
    }
    assertEquals(2, ck.path("quipsharp").path("quant_config").path("bits").asInt());
    Path dense = tmp.resolve(name + "-decoded");
    LlamaConfig config;
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(q); ModelSource src = ModelSource.open(fixture)) {
      config = in.config();
      assertEquals(src.config(), config, "the checkpoint keeps the family's config");
      for (WeightSpec s : WeightSpec.all(config)) {
        if (!s.role().isLinear()) { // biases, norms (raw w for Gemma), embedding, head: fp16 of the source
          float[] want = src.tensor(s.name()).toFloats();
          for (int i = 0; i < want.length; i++) {
            want[i] = HalfFloat.toFloat(HalfFloat.fromFloat(want[i]));
          }
          assertArrayEquals(want, in.denseWeight(s), s.name());
        }
      }
      writeDecoded(in, fixture, dense);
    }
    int[] tokens = FamilyFixturesTest.Reference.of(name).tokens();
    int before = ActivationPrecision.get();
    ActivationPrecision.set(16);
    try (LlamaModel a = LlamaModel.load(q); LlamaModel b = LlamaModel.load(dense)) {
      assertEquals(config, b.config());
      float[] want = b.forward(tokens, 0, true);
      double err = FamilyFixturesTest.relativeError(a.forward(tokens, 0, true), want, 0);
      // Token by token: one-vector mat-vecs through the codebook kernels (the rounded activation).
      int v = config.vocabSize();
      double stepErr = 0;
      for (int t = 0; t < tokens.length; t++) {
        float[] got = a.forward(new int[] {tokens[t]}, t, false);
        float[] ref = b.forward(new int[] {tokens[t]}, t, false);
        stepErr = Math.max(stepErr, FamilyFixturesTest.relativeError(got, ref, 0));
      }
      System.out.printf(Locale.ROOT, "%s 2-bit: checkpoint vs its decoded weights, relative logit error "
          + "prefill %.2e, token by token %.2e%n", name, err, stepErr);
      assertTrue(err <= 1e-5, name + " prefill: " + err);
      assertTrue(stepErr <= 1e-3, name + " token by token: " + stepErr);
    } finally {
      ActivationPrecision.set(before);
    }
  }

  /**
   * An fp32 Hugging Face folder with the fixture's config.json whose linear weights are the
   * checkpoint's decoded groups (fuse scales applied, split into members) and whose other tensors
   * are the checkpoint's; fused file tensors (Phi-3) are written as the family stores them.
   */
  static void writeDecoded(QuantizedCheckpoint.Contents in, Path fixture, Path out) throws IOException {
    LlamaConfig c = in.config();
    Map<String, float[]> tensors = new HashMap<>();
    for (WeightSpec s : WeightSpec.all(c)) {
      if (!s.role().isLinear()) {
        tensors.put(s.name(), in.denseWeight(s));
      }
    }
    for (int l = 0; l < c.layers(); l++) {
      for (LinearGroup g : LinearGroup.values()) {
        QuantizedGroup qg = in.group(l, g);
        float[] w;
        try (QuantizedLinear lin = qg.toLinear()) {
          w = lin.decode();
        }
        int cols = g.cols(c);
        int[] rows = g.memberRows(c);
        float[] fuse = qg.rowFuse(rows);
        int r0 = 0;
        for (int m = 0; m < rows.length; m++) {
          float[] part = new float[rows[m] * cols];
          for (int r = 0; r < rows[m]; r++) {
            for (int k = 0; k < cols; k++) {
              part[r * cols + k] = w[(r0 + r) * cols + k] * fuse[r0 + r];
            }
          }
          tensors.put("model.layers." + l + "." + g.members()[m] + ".weight", part);
          r0 += rows[m];
        }
      }
    }
    Map<String, long[]> shapes = new HashMap<>();
    for (WeightSpec s : WeightSpec.all(c)) {
      shapes.put(s.name(), s.shape());
    }
    for (WeightSpec.FusedTensor f : WeightSpec.fused(c)) {
      List<float[]> parts = new ArrayList<>();
      int length = 0;
      for (String p : f.parts()) {
        float[] v = tensors.remove(p);
        parts.add(v);
        length += v.length;
      }
      float[] joined = new float[length];
      int at = 0;
      for (float[] v : parts) {
        System.arraycopy(v, 0, joined, at, v.length);
        at += v.length;
      }
      tensors.put(f.name(), joined);
      shapes.put(f.name(), f.shape());
    }
    Files.createDirectories(out);
    try (SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"))) {
      for (Map.Entry<String, float[]> e : tensors.entrySet()) {
        w.addFloats(e.getKey(), DType.F32, shapes.get(e.getKey()), e.getValue());
      }
      w.commit();
    }
    ObjectNode config = (ObjectNode) JSON.readTree(fixture.resolve("config.json").toFile());
    Files.write(out.resolve("config.json"), JSON.writeValueAsBytes(config));
  }
}
