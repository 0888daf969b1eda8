package io.github.quipsharp.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.SettingDifference;
import io.github.quipsharp.internal.BlockTuner;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.SettingsDiff;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.safetensors.ContentDigest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The settings a run records in {@code .partial/run.json} and in the checkpoint's config (a resumed
 * run must have the same): the model, its format and identity ({@link ModelIdentity}), the
 * quantization config, ctx, windows, the calibration's length and hash, and with blockwise
 * fine-tuning the tuner's settings (and, once done, what the tuning did). Serialized to JSON only
 * here, in the key order run.json has always had.
 *
 * @param tokenizer the tokenizer beside the model, or null
 * @param blockwise the blockwise tuner's settings ({@code BlockTuner.settings()}), or null
 * @param blockwiseRecord what the blockwise tuning did ({@code BlockTuner.record}), or null
 */
public record RunSettings(String model, String modelFormat,
    Map<String, ModelIdentity.FileIdentity> modelFiles, ModelIdentity.FileIdentity tokenizer,
    QuantConfig quantConfig, int ctx, int windows, int calibrationTokens, String calibrationHash,
    JsonNode blockwise, JsonNode blockwiseRecord) {
  private static final ObjectMapper JSON = new ObjectMapper();

  public RunSettings {
    modelFiles = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(modelFiles));
  }

  /** The settings of a run over {@code windows} windows of {@code ctx} tokens of {@code calibration}. */
  public static RunSettings of(ModelSource src, QuantConfig cfg, int ctx, int windows,
      int[] calibration) {
    return new RunSettings(src.path().toAbsolutePath().normalize().toString(), src.format(),
        ModelIdentity.files(src), ModelIdentity.tokenizer(src), cfg, ctx, windows,
        calibration.length, Integer.toHexString(Arrays.hashCode(calibration)), null, null);
  }

  /** The same settings naming the model as {@code model} (e.g. its URI rather than a local copy). */
  public RunSettings withModel(String model) {
    return new RunSettings(model, modelFormat, modelFiles, tokenizer, quantConfig, ctx, windows,
        calibrationTokens, calibrationHash, blockwise, blockwiseRecord);
  }

  /** The same settings with blockwise fine-tuning's settings. */
  public RunSettings withBlockwise(JsonNode settings) {
    return new RunSettings(model, modelFormat, modelFiles, tokenizer, quantConfig, ctx, windows,
        calibrationTokens, calibrationHash, settings, blockwiseRecord);
  }

  /** The same settings with what blockwise fine-tuning did. */
  public RunSettings withBlockwiseRecord(JsonNode record) {
    return new RunSettings(model, modelFormat, modelFiles, tokenizer, quantConfig, ctx, windows,
        calibrationTokens, calibrationHash, blockwise, record);
  }

  /** run.json's bytes (pretty-printed JSON). */
  public byte[] runJson() {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json());
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * What differs between the settings an interrupted run recorded ({@code saved}, run.json's
   * bytes) and these; empty when nothing does.
   *
   * @param file how to name run.json in an error
   * @throws IllegalArgumentException when {@code saved} is not JSON
   */
  public List<SettingDifference> differencesFrom(byte[] saved, String file) {
    JsonNode old;
    JsonNode now;
    try {
      old = JSON.readTree(saved);
      now = JSON.readTree(runJson()); // numbers typed as a reader types them
    } catch (IOException e) {
      throw new IllegalArgumentException(file + " is not valid JSON: "
          + String.valueOf(e.getMessage()).lines().findFirst().orElse(""), e);
    }
    return SettingsDiff.differences("", old, now);
  }

  private ObjectNode json() {
    ObjectNode s = JSON.createObjectNode();
    s.put("model", model);
    s.put("model_format", modelFormat);
    ObjectNode files = s.putObject("model_files");
    modelFiles.forEach((name, f) -> files.set(name, identity(f)));
    if (tokenizer == null) {
      s.putNull("tokenizer");
    } else {
      ObjectNode t = s.putObject("tokenizer");
      t.put("file", tokenizer.file());
      t.setAll(identity(tokenizer));
    }
    try {
      s.set("quant_config", JSON.readTree(CoreInternals.quantConfigJson(quantConfig)));
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
    s.put("ctx", ctx);
    s.put("windows", windows);
    s.put("calibration_tokens", calibrationTokens);
    s.put("calibration_hash", calibrationHash);
    if (blockwise != null) {
      s.set("blockwise_finetune", blockwise);
    }
    if (blockwiseRecord != null) {
      s.set("blockwise_finetune_record", blockwiseRecord);
    }
    return s;
  }

  private static ObjectNode identity(ModelIdentity.FileIdentity f) {
    ObjectNode o = JSON.createObjectNode();
    o.put("bytes", f.bytes());
    o.put(ContentDigest.ALGORITHM, f.crc32c());
    return o;
  }
}
