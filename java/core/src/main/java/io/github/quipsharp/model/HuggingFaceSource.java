package io.github.quipsharp.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Hugging Face model folder: {@code config.json} plus {@code model.safetensors}, or shards listed
 * by {@code model.safetensors.index.json}. Every shard is opened (header validated) up front.
 */
final class HuggingFaceSource implements ModelSource {
  private final Path dir;
  private final LlamaConfig config;
  private final Map<String, SafetensorsFile> files = new LinkedHashMap<>();
  private final Map<String, SafetensorsFile> byTensor = new HashMap<>();

  private HuggingFaceSource(Path dir, LlamaConfig config) {
    this.dir = dir;
    this.config = config;
  }

  static HuggingFaceSource open(Path dir) {
    Path configFile = dir.resolve("config.json");
    JsonNode json = ModelSource.readJson(configFile);
    if (json.has("quip_params")) {
      throw new ModelFormatException(configFile, "is a quantized QuIP# checkpoint, not an fp model");
    }
    HuggingFaceSource s = new HuggingFaceSource(dir, LlamaConfig.fromHuggingFace(json, configFile));
    try {
      Path single = dir.resolve("model.safetensors");
      Path index = dir.resolve("model.safetensors.index.json");
      if (Files.exists(single)) {
        s.add(single, null);
      } else if (Files.exists(index)) {
        JsonNode map = ModelSource.readJson(index).path("weight_map");
        if (!map.isObject()) {
          throw new ModelFormatException(index, "has no \"weight_map\" object");
        }
        Map<String, Map<String, Boolean>> shards = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> e = it.next();
          shards.computeIfAbsent(e.getValue().asText(), k -> new HashMap<>()).put(e.getKey(), true);
        }
        for (Map.Entry<String, Map<String, Boolean>> shard : shards.entrySet()) {
          Path file = dir.resolve(shard.getKey()).normalize();
          if (!file.startsWith(dir.normalize())) {
            throw new ModelFormatException(index, "shard " + shard.getKey() + " lies outside " + dir);
          }
          s.add(file, shard.getValue());
        }
      } else {
        throw new ModelFormatException(dir, "has neither model.safetensors nor "
            + "model.safetensors.index.json");
      }
      ModelSource.validate(s);
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private void add(Path file, Map<String, Boolean> expected) {
    SafetensorsFile f = SafetensorsFile.open(file);
    files.put(file.toString(), f);
    for (TensorInfo t : f.tensors()) {
      byTensor.put(t.name(), f);
    }
    if (expected != null) {
      for (String name : expected.keySet()) {
        if (!f.contains(name)) {
          throw new ModelFormatException(file, "tensor " + name
              + " is listed in model.safetensors.index.json but absent from this shard");
        }
      }
    }
  }

  @Override
  public Path path() {
    return dir;
  }

  /** config.json and every safetensors file (single or the shards the index names). */
  @Override
  public java.util.List<Path> files() {
    java.util.List<Path> all = new java.util.ArrayList<>();
    all.add(dir.resolve("config.json"));
    files.keySet().forEach(f -> all.add(Path.of(f)));
    return all;
  }

  @Override
  public String format() {
    return "huggingface";
  }

  @Override
  public LlamaConfig config() {
    return config;
  }

  @Override
  public Tensor tensor(String name) {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) {
      throw new ModelFormatException(dir, "tensor " + name + " is missing from the safetensors files");
    }
    TensorInfo info = f.info(name);
    return new Tensor(name, info.dtype(), info.shape(), f.map(name));
  }

  @Override
  public void close() {
    for (SafetensorsFile f : files.values()) {
      f.close();
    }
    files.clear();
    byTensor.clear();
  }
}
