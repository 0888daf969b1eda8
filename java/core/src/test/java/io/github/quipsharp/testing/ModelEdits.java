package io.github.quipsharp.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.safetensors.ContentDigest;
import io.github.quipsharp.safetensors.SafetensorsFile;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import io.github.quipsharp.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Bad inputs for tests, made from good ones: a model folder copied with some tensors' values
 * changed, a safetensors file with some tensors' bytes changed or two tensors swapped, a JSON file
 * with some fields changed; and the digests of a folder's files, to show that a refused command
 * wrote or changed nothing.
 */
public final class ModelEdits {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ModelEdits() {}

  /**
   * Copies the files of folder {@code src} into {@code dst} (created), with model.safetensors
   * rewritten: each tensor named in {@code edits} gets the function's result in its own dtype.
   */
  public static Path copyWith(Path src, Path dst, Map<String, UnaryOperator<float[]>> edits)
      throws IOException {
    Files.createDirectories(dst);
    try (Stream<Path> files = Files.list(src)) {
      for (Path f : files.toList()) {
        if (!f.getFileName().toString().equals("model.safetensors")) {
          Files.copy(f, dst.resolve(f.getFileName()));
        }
      }
    }
    try (SafetensorsFile in = SafetensorsFile.open(src.resolve("model.safetensors"));
        SafetensorsWriter w = SafetensorsWriter.create(dst.resolve("model.safetensors"),
            in.metadata())) {
      for (TensorInfo t : in.tensors()) {
        UnaryOperator<float[]> edit = edits.get(t.name());
        if (edit == null) {
          w.add(t.name(), t.dtype(), t.shape(), in.map(t.name()));
        } else {
          w.addFloats(t.name(), t.dtype(), t.shape(), edit.apply(in.readFloats(t.name())));
        }
      }
      if (!in.tensors().stream().map(TensorInfo::name).toList().containsAll(edits.keySet())) {
        throw new IllegalArgumentException("no such tensor among " + edits.keySet());
      }
      w.commit();
    }
    return dst;
  }

  /** Every value times {@code factor}. */
  public static UnaryOperator<float[]> scaled(float factor) {
    return v -> {
      float[] out = v.clone();
      for (int i = 0; i < out.length; i++) {
        out[i] *= factor;
      }
      return out;
    };
  }

  /** Rewrites {@code file} with the raw bytes of {@code tensor} changed by {@code edit}. */
  public static void editBytes(Path file, String tensor, Consumer<byte[]> edit) throws IOException {
    rewrite(file, (name, bytes) -> {
      if (name.equals(tensor)) {
        edit.accept(bytes);
      }
    }, Map.of());
  }

  /** Rewrites {@code file} with the bytes of tensors {@code a} and {@code b} exchanged. */
  public static void swap(Path file, String a, String b) throws IOException {
    rewrite(file, (name, bytes) -> { }, Map.of(a, b, b, a));
  }

  private interface ByteEdit {
    void apply(String name, byte[] bytes);
  }

  private static void rewrite(Path file, ByteEdit edit, Map<String, String> source)
      throws IOException {
    Map<String, byte[]> data = new TreeMap<>();
    Map<String, TensorInfo> infos = new TreeMap<>();
    Map<String, String> meta;
    try (SafetensorsFile in = SafetensorsFile.open(file)) {
      meta = in.metadata();
      for (TensorInfo t : in.tensors()) {
        ByteBuffer b = in.map(source.getOrDefault(t.name(), t.name()));
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        edit.apply(t.name(), bytes);
        data.put(t.name(), bytes);
        infos.put(t.name(), t);
      }
    }
    try (SafetensorsWriter w = SafetensorsWriter.create(file, meta)) {
      for (Map.Entry<String, TensorInfo> e : infos.entrySet()) {
        TensorInfo t = e.getValue();
        w.add(t.name(), t.dtype(), t.shape(), ByteBuffer.wrap(data.get(t.name())));
      }
      w.commit();
    }
  }

  /** Rewrites a JSON object file after {@code edit} changed it. */
  public static void editJson(Path file, Consumer<ObjectNode> edit) throws IOException {
    ObjectNode o = (ObjectNode) JSON.readTree(file.toFile());
    edit.accept(o);
    Files.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o));
  }

  /** An fp16 value's two little-endian bytes. */
  public static void putF16(byte[] bytes, int index, float value) {
    short h = io.github.quipsharp.safetensors.HalfFloat.fromFloat(value);
    bytes[2 * index] = (byte) h;
    bytes[2 * index + 1] = (byte) (h >> 8);
  }

  /**
   * Every file and folder under {@code dir} (relative path → digest of its bytes, or "folder");
   * empty when {@code dir} does not exist. Equal maps before and after a command show that it
   * wrote, changed and deleted nothing there.
   */
  public static Map<String, String> digests(Path dir) throws IOException {
    Map<String, String> m = new TreeMap<>();
    if (!Files.exists(dir)) {
      return m;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.toList()) {
        String rel = dir.relativize(p).toString();
        m.put(rel, Files.isDirectory(p) ? "folder"
            : Files.isRegularFile(p) ? ContentDigest.ofFile(p) : "special file");
      }
    }
    return m;
  }
}
