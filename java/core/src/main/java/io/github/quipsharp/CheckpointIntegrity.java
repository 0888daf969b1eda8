package io.github.quipsharp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.safetensors.ContentDigest;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.TensorInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The digests a quantized checkpoint records of itself, under {@code quipsharp.integrity} in its
 * {@code config.json}: the {@link ContentDigest} of every tensor of {@code model.safetensors}
 * ({@code tensors}) and of every config field ({@code config}: each top-level field, and each field
 * of the {@code quipsharp} section as {@code quipsharp.<name>}, as canonical JSON — keys sorted,
 * numbers in their shortest decimal form, no spaces — so that reformatting the file or writing
 * {@code 1e-05} for {@code 1.0E-5} changes nothing). Loading checks them and names the tensor or
 * field that differs: flipped bytes, two tensors swapped, an edited scale or sign vector, a changed
 * {@code rope_interleaved} or layer list. The digests guard against accidents, not tampering (see
 * {@link ContentDigest}). Checkpoints written before this check, and those of the reference layout
 * (QUIPSHARP.md §8.3), have no digests and load with a warning.
 */
final class CheckpointIntegrity {
  static final String KEY = "integrity";

  private final Path configFile;
  private final Map<String, String> tensors;
  private final Map<String, String> config;

  private CheckpointIntegrity(Path configFile, Map<String, String> tensors,
      Map<String, String> config) {
    this.configFile = configFile;
    this.tensors = tensors;
    this.config = config;
  }

  /** Records the digests of {@code tensorDigests} and of {@code json}'s fields into {@code json}. */
  static void record(ObjectNode json, Map<String, String> tensorDigests) {
    ObjectNode qs = json.get("quipsharp") instanceof ObjectNode o ? o : json.putObject("quipsharp");
    qs.remove(KEY);
    Map<String, String> fields = fieldDigests(json);
    ObjectNode integrity = qs.putObject(KEY);
    integrity.put("algorithm", ContentDigest.ALGORITHM);
    ObjectNode t = integrity.putObject("tensors");
    new TreeMap<>(tensorDigests).forEach(t::put);
    ObjectNode c = integrity.putObject("config");
    fields.forEach(c::put);
  }

  /** The digests {@code json} records, or null when it records none (an older checkpoint). */
  static CheckpointIntegrity read(JsonNode json, Path configFile) {
    JsonNode node = json.path("quipsharp").path(KEY);
    if (node.isMissingNode()) {
      return null;
    }
    if (!node.isObject() || !node.path("tensors").isObject() || !node.path("config").isObject()) {
      throw new ModelFormatException(configFile, "quipsharp." + KEY + " must be an object with "
          + "\"tensors\" and \"config\" objects");
    }
    String algorithm = node.path("algorithm").asText();
    if (!algorithm.equals(ContentDigest.ALGORITHM)) {
      throw new ModelFormatException(configFile, "quipsharp." + KEY + ".algorithm \"" + algorithm
          + "\" is not supported (this version checks " + ContentDigest.ALGORITHM + ")");
    }
    return new CheckpointIntegrity(configFile, strings(node.get("tensors")),
        strings(node.get("config")));
  }

  private static Map<String, String> strings(JsonNode o) {
    Map<String, String> m = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      m.put(e.getKey(), e.getValue().asText());
    }
    return m;
  }

  /** Checks every config field against its digest; names the first field that differs. */
  void checkConfig(JsonNode json) {
    Map<String, String> now = fieldDigests(json);
    for (Map.Entry<String, String> e : config.entrySet()) {
      String d = now.get(e.getKey());
      if (d == null) {
        throw changed("field " + e.getKey() + " was removed");
      }
      if (!d.equals(e.getValue())) {
        throw changed("field " + e.getKey() + " differs from what was written");
      }
    }
    for (String key : now.keySet()) {
      if (!config.containsKey(key)) {
        throw changed("field " + key + " was added");
      }
    }
  }

  private ModelFormatException changed(String what) {
    return new CheckpointChangedException(configFile, what + " (its " + ContentDigest.ALGORITHM
        + " digest in quipsharp." + KEY + ".config does not match): the checkpoint was changed "
        + "after it was written");
  }

  /** Checks that {@code file} holds exactly the tensors that have digests. */
  void checkTensorNames(SafetensorsFile file) {
    TreeSet<String> inFile = new TreeSet<>();
    for (TensorInfo t : file.tensors()) {
      inFile.add(t.name());
    }
    for (String name : tensors.keySet()) {
      if (!inFile.contains(name)) {
        throw new CheckpointChangedException(file.path(), "tensor " + name + " is missing "
            + "(config.json records its digest)");
      }
    }
    for (String name : inFile) {
      if (!tensors.containsKey(name)) {
        throw new CheckpointChangedException(file.path(), "tensor " + name + " has no digest in "
            + configFile.getFileName() + ": it was added after the checkpoint was written");
      }
    }
  }

  /** Checks one tensor's bytes against its digest. */
  void checkTensor(SafetensorsFile file, String name) {
    String want = tensors.get(name);
    String got = file.digest(name);
    if (!got.equals(want)) {
      throw new CheckpointChangedException(file.path(), "tensor " + name + " does not match its "
          + ContentDigest.ALGORITHM + " digest in " + configFile.getFileName() + " (" + got
          + ", recorded " + want + "): the file is corrupt or was changed after it was written");
    }
  }

  /** How many tensors and config fields have digests. */
  int tensorCount() {
    return tensors.size();
  }

  int fieldCount() {
    return config.size();
  }

  /** Digests of every field (see the class comment), the integrity record itself excluded. */
  static Map<String, String> fieldDigests(JsonNode json) {
    Map<String, String> m = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("quipsharp") && e.getValue().isObject()) {
        for (Iterator<Map.Entry<String, JsonNode>> q = e.getValue().fields(); q.hasNext(); ) {
          Map.Entry<String, JsonNode> f = q.next();
          if (!f.getKey().equals(KEY)) {
            m.put("quipsharp." + f.getKey(), digest(f.getValue()));
          }
        }
      } else {
        m.put(e.getKey(), digest(e.getValue()));
      }
    }
    return m;
  }

  private static String digest(JsonNode value) {
    StringBuilder sb = new StringBuilder();
    canonical(value, sb);
    return ContentDigest.of(sb.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** Canonical JSON: object keys sorted, numbers as stripped decimals, compact. */
  static void canonical(JsonNode n, StringBuilder sb) {
    if (n.isObject()) {
      List<String> keys = new ArrayList<>();
      n.fieldNames().forEachRemaining(keys::add);
      keys.sort(null);
      sb.append('{');
      for (int i = 0; i < keys.size(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        sb.append(TextNode.valueOf(keys.get(i))).append(':');
        canonical(n.get(keys.get(i)), sb);
      }
      sb.append('}');
    } else if (n.isArray()) {
      sb.append('[');
      for (int i = 0; i < n.size(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        canonical(n.get(i), sb);
      }
      sb.append(']');
    } else if (n.isNumber() && (n.isIntegralNumber() || Double.isFinite(n.doubleValue()))) {
      // 10000, 10000.0 and 1e4 are the same number; so are 1e-05 and 1.0E-5.
      java.math.BigDecimal d = n.decimalValue().stripTrailingZeros();
      sb.append(d.signum() == 0 ? "0" : d.toString());
    } else {
      sb.append(n); // strings (quoted and escaped), booleans, null, non-finite numbers
    }
  }
}
