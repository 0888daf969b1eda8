package io.github.quipsharp.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Finds shared/models (the real small models of the project): --models, else QUIPSHARP_MODELS, else
 * the first shared/models folder walking up from the working directory, then from the jar.
 */
final class ModelsFolder {
  private ModelsFolder() {}

  static Path find(Path override) {
    if (override != null) {
      return require(override, "--models");
    }
    String env = System.getenv("QUIPSHARP_MODELS");
    if (env != null && !env.isBlank()) {
      return require(Paths.get(env), "QUIPSHARP_MODELS");
    }
    for (Path start : new Path[] {Paths.get("").toAbsolutePath(), jarDir()}) {
      for (Path p = start; p != null; p = p.getParent()) {
        Path c = p.resolve("shared").resolve("models");
        if (Files.isDirectory(c)) {
          return c;
        }
      }
    }
    throw new IllegalArgumentException("no shared/models folder found above " + Paths.get("")
        .toAbsolutePath() + "; pass --models DIR or set QUIPSHARP_MODELS");
  }

  private static Path require(Path p, String what) {
    if (!Files.isDirectory(p)) {
      throw new IllegalArgumentException(what + " " + p + " is not a folder");
    }
    return p;
  }

  private static Path jarDir() {
    try {
      return Paths.get(ModelsFolder.class.getProtectionDomain().getCodeSource().getLocation().toURI())
          .toAbsolutePath().getParent();
    } catch (Exception e) {
      return null;
    }
  }
}
