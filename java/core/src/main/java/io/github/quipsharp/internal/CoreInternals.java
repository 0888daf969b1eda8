package io.github.quipsharp.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.QuantizationTuner;
import io.github.quipsharp.QuantizedCheckpoint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Operations on public core types that only the other quipsharp modules call (this package is
 * exported to them alone): the parsed config.json and the stored groups of an open checkpoint,
 * writing a fine-tuned checkpoint, a model's Hessian accumulation (QUIPSHARP.md §4) and the hook
 * of a {@link QuantizationTuner}. The types implement them package-private in {@code
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

    LlamaModel.HessianSum hessian(LlamaModel model, int layer, LinearGroup group);

    void stopHessians(LlamaModel model);

    void attachTuner(QuantizationTuner tuner, BlockTuner hook);
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
  public static LlamaModel.HessianSum hessian(LlamaModel model, int layer, LinearGroup group) {
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
}
