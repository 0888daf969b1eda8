package io.github.quipsharp.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Finds the real model files of {@code ../shared/models} for tests: the system property {@code
 * quipsharp.models}, else the environment variable {@code QUIPSHARP_MODELS}, else the first {@code
 * shared/models} folder found walking up from the working directory. Tests that need a file call
 * {@link #require} and are skipped with a message naming the path when it is absent.
 */
public final class SharedModels {
  private SharedModels() {}

  /** The models folder, or null when none is found. */
  public static Path root() {
    String prop = System.getProperty("quipsharp.models");
    if (prop != null && !prop.isBlank()) {
      return Paths.get(prop);
    }
    String env = System.getenv("QUIPSHARP_MODELS");
    if (env != null && !env.isBlank()) {
      return Paths.get(env);
    }
    for (Path p = Paths.get("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path candidate = p.resolve("shared").resolve("models");
      if (Files.isDirectory(candidate)) {
        return candidate;
      }
    }
    return null;
  }

  /** The file {@code relative} under the models folder; skips the calling test if it is absent. */
  public static Path require(String relative) {
    Path root = root();
    assumeTrue(
        root != null,
        "skipped: no shared/models folder found (set -Dquipsharp.models=DIR or QUIPSHARP_MODELS)");
    Path file = root.resolve(relative);
    assumeTrue(
        Files.exists(file),
        "skipped: " + file + " is absent (set -Dquipsharp.models=DIR or QUIPSHARP_MODELS)");
    return file;
  }

  /**
   * A class path for a forked test JVM: this JVM's, with its module path in front when the tests run
   * on the module path (the main classes are there then, not on the class path).
   */
  public static String forkClassPath() {
    String modules = System.getProperty("jdk.module.path");
    String classes = System.getProperty("java.class.path");
    return modules == null || modules.isEmpty() ? classes
        : modules + java.io.File.pathSeparator + classes;
  }
}
