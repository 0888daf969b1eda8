package io.github.quipsharp.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every family beyond Llama 2 through the Spark job in local[2], against the single-machine {@code
 * quipsharp quantize} with the same seed: Llama 3 (llama3 RoPE scaling), Mistral (sliding window),
 * Qwen 2 (q/k/v biases, a sliding-window layer), Qwen 3 (q/k norms), Gemma (GeGLU, (1 + w) norms,
 * scaled embeddings), Gemma 2 (sandwich norms, soft-caps, windows on alternate layers) and Phi-3
 * (fused qkv and gate/up tensors), the
 * transformers-written fixtures of the core module with its character-level tokenizer.json and
 * text. Phase A runs the family's layer forward chunk by chunk: its Hessians equal a whole-model
 * accumulation within 1e-12, and the checkpoint is the single machine's.
 */
class SparkFamiliesTest {
  static final long SEED = 7;
  static final int CTX = 32;

  @TempDir Path tmp;

  static Path fixture(String name) {
    return Path.of("..", "core", "src", "test", "resources", "families", name).toAbsolutePath().normalize();
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama3", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"})
  void sparkQuantizesTheFamilyAsTheSingleMachineDoes(String name) throws IOException {
    Path model = fixture(name);
    Path tok = fixture("char-tokenizer").resolve("tokenizer.json");
    Path text = fixture("ppl-text.txt");
    Path single = tmp.resolve(name + "-single");
    List<String> common = List.of("--model", model.toString(), "--tokenizer", tok.toString(), "--calibration",
        text.toString(), "--bits", "2", "--ctx", Integer.toString(CTX), "--seed", Long.toString(SEED));
    String[] cli = concat(List.of("quantize"), common, List.of("--out", single.toString()));
    Stories.Result m = Stories.cli(cli);
    assertEquals(0, m.code(), m.err());
    Path spark = tmp.resolve(name + "-spark");
    Stories.Result r = Stories.spark(true, Arrays.asList(concat(List.of("quantize", "--master", "local[2]"), common,
        List.of("--partitions", "3", "--out", spark.toString()))));
    assertEquals(0, r.code(), r.out() + r.err());
    LlamaConfig c;
    try (ModelSource src = ModelSource.open(model)) {
      c = src.config();
    }
    int layers = c.layers();
    assertTrue(r.out().contains("[hessians " + layers + "/" + layers + "]")
        && r.out().contains("[quantize " + 4 * layers + "/" + 4 * layers + "]"), r.out());

    // Phase A against the whole-model forward pass over the same windows.
    int[] all = Tokenizer.load(tok).encode(Files.readString(text), true, false);
    int[] calibration = CalibrationSplit.calibration(all, 0.75);
    int windows = calibration.length / CTX;
    RunFolder f = new RunFolder(spark.toString());
    double worst = 0;
    try (ModelSource src = ModelSource.open(model); LlamaModel fp = LlamaModel.fromSource(src, DType.F32)) {
      CoreInternals.startHessians(fp, 0, layers);
      for (int w = 0; w < windows; w++) {
        fp.forward(Arrays.copyOfRange(calibration, w * CTX, (w + 1) * CTX), 0, false);
      }
      for (int l = 0; l < layers; l++) {
        for (LinearGroup g : LinearGroup.values()) {
          HessianSum want = CoreInternals.hessian(fp, l, g);
          double rel = Stories.relativeDifference(want, f.hessians().read(l, g));
          worst = Math.max(worst, rel);
          assertTrue(rel <= 1e-12, name + " layer " + l + " " + g.key() + ": " + rel);
        }
      }
    }
    System.out.printf(Locale.ROOT, "%s: Spark vs whole-model Hessians max |dH| / max |H| = %.3g%n", name, worst);
    Stories.assertSameFiles(single, spark);
  }

  /**
   * A --ctx beyond the model's 256 positions: refused by both drivers without the flag (BadInputTest),
   * run with --allow-longer-context and a warning, and the two checkpoints are the same.
   */
  @org.junit.jupiter.api.Test
  void allowLongerContextRunsPastTheContextLengthAsTheSingleMachineDoes() throws IOException {
    Path model = fixture("llama3");
    List<String> common = List.of("--model", model.toString(), "--tokenizer",
        fixture("char-tokenizer").resolve("tokenizer.json").toString(), "--calibration",
        fixture("ppl-text.txt").toString(), "--bits", "2", "--ctx", "300", "--seed", Long.toString(SEED),
        "--allow-longer-context");
    Path single = tmp.resolve("single");
    Stories.Result m = Stories.cli(concat(List.of("quantize"), common, List.of("--out", single.toString())));
    assertEquals(0, m.code(), m.err());
    Path spark = tmp.resolve("spark");
    Stories.Result r = Stories.spark(false, Arrays.asList(concat(List.of("quantize", "--master", "local[2]"),
        common, List.of("--out", spark.toString()))));
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("warning: --ctx 300 exceeds the model's context length 256"), r.out());
    Stories.assertSameFiles(single, spark);
  }

  /**
   * Every quantization setting of {@code quipsharp quantize} reaches Spark's tasks: non-default
   * rounding, refinement, RHT, damping and scales (on 3 bits, where the residual scale counts) give
   * the single machine's checkpoint byte for byte, and that checkpoint differs from the defaults'.
   */
  @ParameterizedTest
  @ValueSource(strings = {"--rounding nearest --no-rht --scale 1.1 --residual-scale 2.5",
      "--refine-passes 3 --damping 0.05"})
  void everyQuantizationSettingReachesTheTasks(String settings) throws IOException {
    Path model = fixture("llama3");
    List<String> common = List.of("--model", model.toString(), "--tokenizer",
        fixture("char-tokenizer").resolve("tokenizer.json").toString(), "--calibration",
        fixture("ppl-text.txt").toString(), "--bits", "3", "--ctx", Integer.toString(CTX), "--seed",
        Long.toString(SEED));
    List<String> flags = List.of(settings.split(" "));
    Path single = tmp.resolve("single");
    Stories.Result m = Stories.cli(concat(List.of("quantize"), common, flags,
        List.of("--out", single.toString())));
    assertEquals(0, m.code(), m.err());
    Path defaults = tmp.resolve("defaults");
    Stories.Result d = Stories.cli(concat(List.of("quantize"), common,
        List.of("--out", defaults.toString())));
    assertEquals(0, d.code(), d.err());
    assertFalse(Arrays.equals(Files.readAllBytes(single.resolve("model.safetensors")),
        Files.readAllBytes(defaults.resolve("model.safetensors"))), settings + " changed nothing");
    Path spark = tmp.resolve("spark");
    Stories.Result r = Stories.spark(false, Arrays.asList(concat(List.of("quantize", "--master",
        "local[2]"), common, flags, List.of("--out", spark.toString()))));
    assertEquals(0, r.code(), r.out() + r.err());
    Stories.assertSameFiles(single, spark);
  }

  @SafeVarargs
  static String[] concat(List<String>... parts) {
    return Arrays.stream(parts).flatMap(List::stream).toArray(String[]::new);
  }
}
