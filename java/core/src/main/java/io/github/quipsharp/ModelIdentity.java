package io.github.quipsharp;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.internal.RegularFiles;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.safetensors.ContentDigest;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a quantization run records of its model so that {@code resume} can tell the same model from
 * another one with the same shapes (a folder whose weights were replaced): the size and {@link
 * ContentDigest} of every file the model is read from (config.json and each safetensors file, or
 * the llama2.c .bin), and of the tokenizer file beside it. Hashing reads every byte once, which the
 * Hessian collection does anyway; at CRC32C's speed it costs a fraction of loading the weights.
 */
final class ModelIdentity {
  private ModelIdentity() {}

  /** {file name: {"bytes": n, "crc32c": hex}} for every file of {@code src}. */
  static ObjectNode files(ModelSource src) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    for (Path f : src.files()) {
      o.set(f.getFileName().toString(), describe(f));
    }
    return o;
  }

  /** {"file": name, "bytes": n, "crc32c": hex} of the tokenizer beside the model, or null. */
  static ObjectNode tokenizer(ModelSource src) {
    Path tok;
    try {
      tok = Tokenizer.locate(src.path());
    } catch (ModelFormatException e) {
      return null;
    }
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("file", tok.getFileName().toString());
    o.setAll(describe(tok));
    return o;
  }

  private static ObjectNode describe(Path f) {
    String why = RegularFiles.whyNot(f);
    if (why != null) {
      throw new ModelFormatException(f, why); // reading a FIFO would block
    }
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    try {
      o.put("bytes", Files.size(f));
      o.put(ContentDigest.ALGORITHM, ContentDigest.ofFile(f));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
    }
    return o;
  }
}
