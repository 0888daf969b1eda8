package io.github.quipsharp.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import io.github.quipsharp.safetensors.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A deeper copy of a model folder for scale measurements: every decoder layer of SRC repeated
 * FACTOR times (layer i of copy k becomes layer k·L + i), embeddings, final norm and head as they
 * are; works on Hugging Face folders and on quantized checkpoints (whose per-layer records in
 * config.json are repeated too). Quantizing a 4096/11008 layer takes minutes on two cores; the
 * cost of fine-tuning does not depend on the values of the codes, so a 2-layer checkpoint repeated
 * stands in for an 8-layer one (with its fp model repeated the same way as the teacher).
 *
 * <p>Usage: {@code java -cp bench/target/benchmarks.jar io.github.quipsharp.bench.RepeatLayers SRC
 * FACTOR OUT}
 */
public final class RepeatLayers {
  private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d+)\\.(.*)$");

  private RepeatLayers() {}

  public static void main(String[] args) throws Exception {
    Path src = Path.of(args[0]);
    int factor = Integer.parseInt(args[1]);
    Path out = Path.of(args[2]);
    if (Files.exists(out)) {
      throw new IllegalArgumentException(out + " exists; choose a new folder");
    }
    ObjectMapper om = new ObjectMapper();
    ObjectNode config = (ObjectNode) om.readTree(src.resolve("config.json").toFile());
    int layers = config.path("num_hidden_layers").asInt();
    Files.createDirectories(out);
    try (SafetensorsFile in = SafetensorsFile.open(src.resolve("model.safetensors"));
        SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"), in.metadata())) {
      for (int k = 0; k < factor; k++) {
        for (TensorInfo t : in.tensors()) {
          Matcher m = LAYER.matcher(t.name());
          if (m.matches()) {
            int layer = k * layers + Integer.parseInt(m.group(1));
            w.add("model.layers." + layer + "." + m.group(2), t.dtype(), t.shape(), in.map(t.name()));
          } else if (k == 0) {
            w.add(t.name(), t.dtype(), t.shape(), in.map(t.name()));
          }
        }
      }
      w.commit();
    }
    config.put("num_hidden_layers", layers * factor);
    JsonNode q = config.path("quipsharp").path("layers");
    if (q.isArray()) {
      ArrayNode repeated = om.createArrayNode();
      for (int k = 0; k < factor; k++) {
        for (JsonNode r : q) {
          ObjectNode c = r.deepCopy();
          c.put("layer", k * layers + r.path("layer").asInt());
          repeated.add(c);
        }
      }
      ((ObjectNode) config.path("quipsharp")).set("layers", repeated);
    }
    Files.write(out.resolve("config.json"), om.writerWithDefaultPrettyPrinter().writeValueAsBytes(config));
    try (var files = Files.list(src)) {
      for (Path f : files.filter(p -> p.getFileName().toString().startsWith("tok")).toList()) {
        Files.copy(f, out.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    System.out.println("wrote " + out + ": " + layers * factor + " layers");
  }
}
