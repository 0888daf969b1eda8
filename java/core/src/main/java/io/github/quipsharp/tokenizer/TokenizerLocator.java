package io.github.quipsharp.tokenizer;

import io.github.quipsharp.ModelFormatException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Finds the tokenizer file next to a model, for {@link Tokenizer#forModel}. */
final class TokenizerLocator {
  private static final String LOOKED_FOR = "tokenizer.json, tokenizer.bin or a single tok*.bin";
  private static final String[] COMPANIONS = {
    "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json"
  };

  private TokenizerLocator() {}

  static Path locate(Path modelPath) {
    if (!Files.exists(modelPath)) {
      throw new ModelFormatException(modelPath, "no such model file or folder");
    }
    Path dir;
    Path self = null;
    if (Files.isDirectory(modelPath)) {
      dir = modelPath;
    } else {
      self = modelPath.toAbsolutePath().normalize();
      // Keep the caller's spelling of the folder (relative or not) in paths and messages.
      dir = modelPath.getParent() != null ? modelPath.getParent() : self.getParent();
    }
    for (String name : new String[] {"tokenizer.json", "tokenizer.bin"}) {
      Path candidate = dir.resolve(name);
      if (Files.isRegularFile(candidate) && !isSelf(candidate, self)) {
        return candidate;
      }
    }
    List<Path> found = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "tok*.bin")) {
      for (Path candidate : files) {
        if (Files.isRegularFile(candidate) && !isSelf(candidate, self)) {
          found.add(candidate);
        }
      }
    } catch (IOException e) {
      throw new ModelFormatException(dir, "cannot list the folder to find " + LOOKED_FOR, e);
    }
    if (found.size() == 1) {
      return found.get(0);
    }
    if (found.isEmpty()) {
      throw new ModelFormatException(dir, "no tokenizer found: looked for " + LOOKED_FOR);
    }
    found.sort(null);
    List<String> names = new ArrayList<>();
    for (Path p : found) {
      names.add(String.valueOf(p.getFileName()));
    }
    throw new ModelFormatException(
        dir,
        "several tokenizers "
            + names
            + " and no tokenizer.json or tokenizer.bin to choose; "
            + "load the right one with Tokenizer.load");
  }

  static List<Path> companions(Path tokenizerFile) {
    List<Path> out = new ArrayList<>();
    if (!String.valueOf(tokenizerFile.getFileName()).toLowerCase(Locale.ROOT).endsWith(".json")) {
      return out;
    }
    for (String name : COMPANIONS) {
      Path candidate = tokenizerFile.resolveSibling(name);
      if (Files.isRegularFile(candidate)) {
        out.add(candidate);
      }
    }
    return out;
  }

  private static boolean isSelf(Path candidate, Path self) {
    return self != null && candidate.toAbsolutePath().normalize().equals(self);
  }
}
