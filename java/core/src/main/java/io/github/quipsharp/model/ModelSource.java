package io.github.quipsharp.model;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.RegularFiles;
import io.github.quipsharp.safetensors.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/**
 * The weights of an unquantized Llama-family model on disk, addressed by their Hugging Face names
 * ({@code model.embed_tokens.weight}, {@code model.layers.N.self_attn.q_proj.weight}, ...,
 * {@code lm_head.weight} when untied). Tensors are memory-mapped views; closing the source releases
 * the files.
 */
public interface ModelSource extends AutoCloseable {
  /** Floating-point dtypes a model's weights may have. */
  Set<DType> WEIGHT_DTYPES = Set.of(DType.F32, DType.F16, DType.BF16);

  /** The file or folder this source reads. */
  Path path();

  /** "huggingface" or "llama2.c". */
  String format();

  LlamaConfig config();

  /** The files the model is read from (what a run's model identity digests). */
  default java.util.List<Path> files() {
    return java.util.List.of(path());
  }

  /** The named tensor; a {@link ModelFormatException} naming the file when it is absent. */
  Tensor tensor(String name);

  @Override
  void close();

  /**
   * Opens a model: a Hugging Face folder ({@code config.json} + safetensors), a llama2.c {@code .bin}
   * file, or a folder holding exactly one {@code .bin}. Validates every tensor's dtype and shape
   * against the config before returning.
   */
  static ModelSource open(Path path) {
    checkPath(path);
    if (Files.isDirectory(path)) {
      if (Files.exists(path.resolve("config.json"))) {
        return HuggingFaceSource.open(path);
      }
      path = Llama2cSource.findBin(path);
      checkPath(path);
    }
    if (path.getFileName().toString().equals("config.json")) {
      return HuggingFaceSource.open(path.getParent());
    }
    return Llama2cSource.open(path);
  }

  /**
   * Refuses, with a message that says what it is, a model path that cannot be a model: a missing
   * path, a FIFO or device (opening it would block), one file of a Hugging Face folder (read as a
   * llama2.c file it would give a nonsense header), or a folder that holds only an unfinished
   * quantization run ({@code .partial}, no config.json yet).
   *
   * @throws ModelFormatException naming the path
   */
  static void checkPath(Path path) {
    if (!Files.exists(path)) {
      throw new ModelFormatException(path, "no such file or folder");
    }
    if (Files.isDirectory(path)) {
      if (Files.isDirectory(path.resolve(".partial")) && !Files.exists(path.resolve("config.json"))) {
        throw new io.github.quipsharp.UnfinishedRunException(path);
      }
      return;
    }
    String why = io.github.quipsharp.internal.RegularFiles.whyNot(path);
    if (why != null) {
      throw new ModelFormatException(path, why + "; a model is a folder or a llama2.c .bin file");
    }
    String name = path.getFileName().toString();
    if (name.endsWith(".safetensors") || name.endsWith(".safetensors.index.json")) {
      throw new ModelFormatException(path, "is one file of a Hugging Face model or checkpoint; "
          + "name the folder that holds it and its config.json (" + path.toAbsolutePath().getParent()
          + ")");
    }
  }

  /** Checks every weight that the config implies ({@link WeightSpec#all}) for dtype and shape. */
  static void validate(ModelSource source) {
    for (WeightSpec w : WeightSpec.all(source.config())) {
      check(source, w.name(), w.shape());
    }
  }

  private static void check(ModelSource source, String name, long... shape) {
    requireWeight(source, source.tensor(name), shape);
  }

  /**
   * Checks a weight tensor of {@code source}: dtype F32, F16 or BF16 and the given shape, else a
   * {@link ModelFormatException} naming the file and the tensor.
   */
  static void requireWeight(ModelSource source, Tensor t, long... shape) {
    String name = t.name();
    if (!WEIGHT_DTYPES.contains(t.dtype())) {
      throw new ModelFormatException(source.path(), "tensor " + name + " has dtype " + t.dtype()
          + "; weights must be F32, F16 or BF16");
    }
    if (!Arrays.equals(t.shape(), shape)) {
      throw new ModelFormatException(source.path(), "tensor " + name + " has shape "
          + t.shapeString() + " but the config needs " + Arrays.toString(shape));
    }
  }
}
