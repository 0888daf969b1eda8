package io.github.quipsharp.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.internal.HuggingFaceConfig;
import io.github.quipsharp.internal.JsonFiles;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face model folder: {@code config.json} plus {@code model.safetensors}, or shards listed
 * by {@code model.safetensors.index.json}. Every shard is opened (header validated) up front. Fused
 * file tensors (Phi-3's qkv_proj, gate_up_proj) are served as their parts under the Llama names, as
 * row slices of the mapped tensor.
 */
final class HuggingFaceSource implements ModelSource {
  private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d+)\\.");

  private final Path dir;
  private final LlamaConfig config;
  private final Map<String, SafetensorsFile> files = new LinkedHashMap<>();
  private final Map<String, SafetensorsFile> byTensor = new HashMap<>();
  /** Llama name of a part -> {fused tensor, first row, rows}. */
  private final Map<String, Part> parts = new HashMap<>();

  private record Part(WeightSpec.FusedTensor fused, long firstRow, long rows) {}

  private HuggingFaceSource(Path dir, LlamaConfig config) {
    this.dir = dir;
    this.config = config;
  }

  static HuggingFaceSource open(Path dir) {
    Path configFile = dir.resolve("config.json");
    JsonNode json = JsonFiles.read(configFile);
    if (json.has("quip_params")) {
      throw new ModelFormatException(configFile, "is a quantized QuIP# checkpoint, not an fp model");
    }
    HuggingFaceSource s = new HuggingFaceSource(dir, HuggingFaceConfig.read(json, configFile));
    try {
      Path single = dir.resolve("model.safetensors");
      Path index = dir.resolve("model.safetensors.index.json");
      if (Files.exists(single)) {
        s.add(single, null);
      } else if (Files.exists(index)) {
        JsonNode map = JsonFiles.read(index).path("weight_map");
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
      s.checkLayerCount(configFile);
      s.mapFusedTensors();
      ModelSource.validate(s);
      s.warnUnusedTensors(System.err::println);
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

  /** The layers the files hold (model.layers.N.*) against num_hidden_layers. */
  private void checkLayerCount(Path configFile) {
    int fileLayers = 0;
    for (String name : byTensor.keySet()) {
      Matcher m = LAYER.matcher(name);
      if (m.find()) {
        fileLayers = Math.max(fileLayers, Integer.parseInt(m.group(1)) + 1);
      }
    }
    if (fileLayers != config.layers()) {
      throw new ModelFormatException(configFile, "num_hidden_layers = " + config.layers() + " but the "
          + "safetensors files hold " + fileLayers + " layers (model.layers.0 .. model.layers."
          + (fileLayers - 1) + ")");
    }
  }

  private void mapFusedTensors() {
    for (WeightSpec.FusedTensor f : WeightSpec.fused(config)) {
      Tensor t = tensor(f.name());
      ModelSource.requireWeight(this, t, f.shape());
      long first = 0;
      for (int i = 0; i < f.parts().size(); i++) {
        parts.put(f.parts().get(i), new Part(f, first, f.rows()[i]));
        first += f.rows()[i];
      }
    }
  }

  /** One warning line naming the file tensors that the config does not use (none is read). */
  void warnUnusedTensors(Consumer<String> warn) {
    Set<String> used = new HashSet<>();
    for (WeightSpec w : WeightSpec.all(config)) {
      used.add(w.name());
    }
    for (WeightSpec.FusedTensor f : WeightSpec.fused(config)) {
      used.add(f.name());
    }
    List<String> unused = new ArrayList<>();
    for (String name : byTensor.keySet()) {
      // Old Llama checkpoints store RoPE's inverse frequencies as a buffer; the config defines them.
      if (!used.contains(name) && !name.endsWith("rotary_emb.inv_freq")) {
        unused.add(name);
      }
    }
    if (!unused.isEmpty()) {
      Collections.sort(unused);
      warn.accept("warning: " + dir + ": " + unused.size() + " tensor(s) that " + config.architecture()
          + " with this config does not use are ignored: " + String.join(", ",
              unused.subList(0, Math.min(8, unused.size()))) + (unused.size() > 8 ? ", ..." : ""));
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
    Part part = parts.get(name);
    if (part != null) {
      Tensor whole = tensor(part.fused().name());
      long cols = whole.shape()[1];
      long bytes = whole.dtype().byteSize();
      ByteBuffer rows = whole.data().slice(Math.toIntExact(part.firstRow() * cols * bytes),
          Math.toIntExact(part.rows() * cols * bytes)).order(ByteOrder.LITTLE_ENDIAN);
      return new Tensor(name, whole.dtype(), new long[] {part.rows(), cols}, rows);
    }
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
