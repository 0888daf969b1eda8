package io.github.quipsharp.pipeline;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.internal.RegularFiles;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.safetensors.ContentDigest;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a quantization run records of its model so that a resumed run can tell the same model from
 * another one with the same shapes (a folder whose weights were replaced): the size and {@link
 * ContentDigest} of every file the model is read from (config.json and each safetensors file, or
 * the llama2.c .bin), and of the tokenizer file beside it. Hashing reads every byte once, which the
 * Hessian collection does anyway; at CRC32C's speed it costs a fraction of loading the weights.
 */
public final class ModelIdentity {
  private ModelIdentity() {}

  /** One file's name, size and {@link ContentDigest}. */
  public record FileIdentity(String file, long bytes, String crc32c) {}

  /** Every file of {@code src}, by file name, in the order the source lists them. */
  public static Map<String, FileIdentity> files(ModelSource src) {
    Map<String, FileIdentity> o = new LinkedHashMap<>();
    for (Path f : src.files()) {
      o.put(f.getFileName().toString(), describe(f));
    }
    return o;
  }

  /** The tokenizer beside the model, or null when it has none. */
  public static FileIdentity tokenizer(ModelSource src) {
    Path tok;
    try {
      tok = Tokenizer.locate(src.path());
    } catch (ModelFormatException e) {
      return null;
    }
    return describe(tok);
  }

  private static FileIdentity describe(Path f) {
    String why = RegularFiles.whyNot(f);
    if (why != null) {
      throw new ModelFormatException(f, why); // reading a FIFO would block
    }
    try {
      return new FileIdentity(f.getFileName().toString(), Files.size(f), ContentDigest.ofFile(f));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
    }
  }
}
