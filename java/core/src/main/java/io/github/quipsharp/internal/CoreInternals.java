package io.github.quipsharp.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.LayerReport;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizationInfo;
import io.github.quipsharp.QuantizationTuner;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.pipeline.RunSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Operations on public core types that only the other quipsharp modules call (this package is
 * exported to them alone): the parsed config.json and the stored groups of an open checkpoint,
 * writing a fine-tuned checkpoint, a model's Hessian accumulation (QUIPSHARP.md §4), the hook
 * of a {@link QuantizationTuner}, and what the quantization pipeline writes and checks (shards,
 * the assembled checkpoint, fp16 fit, the checked forward pass). The types implement them package-private in {@code
 * io.github.quipsharp}, which hands them over here once (the JDK's "shared secrets" pattern), so
 * that none of them is a public method of the API.
 */
public final class CoreInternals {
  /** What {@code io.github.quipsharp} implements; see the static methods of the same names. */
  public interface Operations {
    JsonNode json(QuantizedCheckpoint.Contents in);

    QuantizedGroup group(QuantizedCheckpoint.Contents in, int layer, LinearGroup g);

    void writeTuned(QuantizedCheckpoint.Contents in, Path out, Map<String, float[]> replace,
        ObjectNode finetune) throws IOException;

    void startHessians(LlamaModel model, int layerBegin, int layerEnd);

    HessianSum hessian(LlamaModel model, int layer, LinearGroup group);

    void stopHessians(LlamaModel model);

    void attachTuner(QuantizationTuner tuner, BlockTuner hook);

    float[] checkedForward(LlamaModel model, int[] tokens, int startPos, boolean allLogits,
        Supplier<int[]> sequence, String where);

    float[] roundF16(float[] values);

    void requireF16(float[] values, String what);

    void requireDenseFitF16(ModelSource src);

    String quantConfigJson(QuantConfig c);

    void writeShard(Path shard, QuantizedGroup g, LayerReport report) throws IOException;

    LayerReport readShardReport(Path shard, int layer, LinearGroup g, QuantConfig cfg);

    Path normsShard(Path partial, int layer);

    void writeNormsShard(Path partial, int layer, LayerState state) throws IOException;

    void assemble(ModelSource src, QuantizationInfo info, RunSettings settings, Path partial,
        Path out) throws IOException;
  }

  /** The class in io.github.quipsharp whose initialisation installs the operations. */
  private static final String IMPLEMENTATION = "io.github.quipsharp.InternalOperations";
  private static volatile Operations operations;

  private CoreInternals() {}

  /** Called once, by the implementation's static initialiser; a second call is refused. */
  public static synchronized void install(Operations ops) {
    if (operations != null) {
      throw new IllegalStateException("core internals are installed already");
    }
    operations = Checks.notNull(ops, "ops");
  }

  private static Operations operations() {
    Operations ops = operations;
    if (ops == null) {
      try {
        Class.forName(IMPLEMENTATION, true, CoreInternals.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException(IMPLEMENTATION + " is missing from quipsharp-core", e);
      }
      ops = operations;
    }
    return ops;
  }

  /** A copy of the checkpoint's parsed config.json. */
  public static JsonNode json(QuantizedCheckpoint.Contents in) {
    return operations().json(in);
  }

  /** One quantized group of the checkpoint, validated (shapes, dtypes, codebook, code range). */
  public static QuantizedGroup group(QuantizedCheckpoint.Contents in, int layer, LinearGroup g) {
    return operations().group(in, layer, g);
  }

  /**
   * Writes a fine-tuned copy of the checkpoint {@code in} to {@code out} (which may be {@code in}'s
   * own folder: each file is replaced atomically). {@code replace} maps tensor names to new values,
   * stored as fp16: the sign vectors {@code ...SU}/{@code ...SV}, norms, and {@code lm_head.weight},
   * which unties the head from the embedding when the checkpoint had none. Codes and every other
   * tensor are copied unchanged. {@code finetune} is recorded in config.json under
   * {@code quipsharp.finetune}.
   */
  public static void writeTuned(QuantizedCheckpoint.Contents in, Path out,
      Map<String, float[]> replace, ObjectNode finetune) throws IOException {
    operations().writeTuned(in, out, replace, finetune);
  }

  /** Starts accumulating Σ x xᵀ of every group's inputs in layers [begin, end). */
  public static void startHessians(LlamaModel model, int layerBegin, int layerEnd) {
    operations().startHessians(model, layerBegin, layerEnd);
  }

  /** Σ x xᵀ (n×n, row-major) of one group's inputs since {@link #startHessians}, and the count. */
  public static HessianSum hessian(LlamaModel model, int layer, LinearGroup group) {
    return operations().hessian(model, layer, group);
  }

  /** Stops the accumulation (forward passes after it add nothing). */
  public static void stopHessians(LlamaModel model) {
    operations().stopHessians(model);
  }

  /**
   * Makes {@code tuner} run {@code hook} inside the quantizer: the public {@link QuantizationTuner}
   * a user hands to {@code ModelQuantizer.Options} carries the internal hook the pipeline calls.
   * Called by the tuner's constructor, once.
   */
  public static void attachTuner(QuantizationTuner tuner, BlockTuner hook) {
    operations().attachTuner(Checks.notNull(tuner, "tuner"), Checks.notNull(hook, "hook"));
  }

  /**
   * {@code model.forward} whose non-finite logits (or the engine's non-finite error) become the
   * {@code NonFiniteActivationException} naming the first layer that overflows on {@code
   * sequence} (every token from position 0 through {@code tokens}, computed only when needed).
   */
  public static float[] checkedForward(LlamaModel model, int[] tokens, int startPos,
      boolean allLogits, Supplier<int[]> sequence, String where) {
    return operations().checkedForward(model, tokens, startPos, allLogits, sequence, where);
  }

  /** Each value rounded to fp16, the type the checkpoint stores it in. */
  public static float[] roundF16(float[] values) {
    return operations().roundF16(values);
  }

  /**
   * Checks that values stored as fp16 stay finite; {@code what} names them in the error.
   *
   * @throws IllegalStateException for the first value that is not finite in fp16
   */
  public static void requireF16(float[] values, String what) {
    operations().requireF16(values, what);
  }

  /**
   * Checks, before any work, that the tensors the checkpoint keeps in fp16 (embedding, norms,
   * head) fit it.
   *
   * @throws io.github.quipsharp.ModelFormatException naming the tensor and the first value that
   *     does not
   */
  public static void requireDenseFitF16(ModelSource src) {
    operations().requireDenseFitF16(src);
  }

  /** The {@code quant_config} JSON object of {@code c} as text (run.json and config.json). */
  public static String quantConfigJson(QuantConfig c) {
    return operations().quantConfigJson(c);
  }

  /** Writes one layer group's shard: its tensors and, as metadata, its report. */
  public static void writeShard(Path shard, QuantizedGroup g, LayerReport report)
      throws IOException {
    operations().writeShard(shard, g, report);
  }

  /**
   * The report stored in a shard, checked against the expected layer and group.
   *
   * @throws io.github.quipsharp.ModelFormatException for a shard without a valid report, or
   *     another layer's or group's
   */
  public static LayerReport readShardReport(Path shard, int layer, LinearGroup g,
      QuantConfig cfg) {
    return operations().readShardReport(shard, layer, g, cfg);
  }

  /** The shard of a layer's tuned norms in the run folder {@code partial}. */
  public static Path normsShard(Path partial, int layer) {
    return operations().normsShard(partial, layer);
  }

  /** Writes {@link #normsShard}: every norm of the layer, tuned, under its file name. */
  public static void writeNormsShard(Path partial, int layer, LayerState state)
      throws IOException {
    operations().writeNormsShard(partial, layer, state);
  }

  /**
   * Writes model.safetensors, the tokenizer and (last) config.json into {@code out} from the
   * finished shards in {@code partial}.
   */
  public static void assemble(ModelSource src, QuantizationInfo info, RunSettings settings,
      Path partial, Path out) throws IOException {
    operations().assemble(src, info, settings, partial, out);
  }
}
