package io.github.quipsharp.it;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The native library loads from the Maven artifacts alone: a consumer program, compiled here against
 * the packaged jars, runs in a fresh JVM whose class path holds only those jars (plus the consumer),
 * with no LD_LIBRARY_PATH and an empty JavaCPP cache. The consumer reports which libquipsharp.so its
 * process mapped; it must be the copy JavaCPP extracted from the jar into that cache.
 */
class JarLoadingIT {
  private static final String CONSUMER =
      String.join(
          "\n",
          "import io.github.quipsharp.*;",
          "import java.nio.file.*;",
          "public class Consumer {",
          "  public static void main(String[] a) throws Exception {",
          "    E8P12Codebook cb = E8P12Codebook.get();",
          "    short[] c = cb.encode(new float[] {0.3f, -1.2f, 0.8f, 2.1f, -0.4f, 0.05f, -0.9f, 1.6f});",
          "    System.out.println(\"code=\" + Integer.toHexString(c[0] & 0xffff));",
          "    System.out.println(\"supported11008=\" + Hadamard.isSupported(11008));",
          "    float[] w = new float[32 * 64];",
          "    for (int i = 0; i < w.length; i++) {",
          "      w[i] = (float) Math.sin(0.37 * i + 0.1 * (i % 7));",
          "    }",
          "    try (QuantizedLinear q = Quantizer.quantize(w, 32, 64, null,",
          "        QuantConfig.builder().bits(2).seed(3).build())) {",
          "      System.out.println(\"rows=\" + q.rows() + \" decoded=\" + q.decode().length);",
          "    }",
          FreshJvm.printMappedLibrary("libquipsharp.so"),
          "  }",
          "}",
          "");

  @Test
  void nativeLibraryLoadsFromTheJarsInAFreshJvm(@TempDir Path tmp) throws Exception {
    List<String> jars = artifactJars();
    Path cache = Files.createDirectories(tmp.resolve("javacpp-cache"));
    String output =
        FreshJvm.run(
            tmp, "Consumer", CONSUMER, jars,
            List.of("-Dorg.bytedeco.javacpp.cachedir=" + cache), List.of());

    assertTrue(output.contains("code=735c"), output); // QUIPSHARP.md §10.2.5
    assertTrue(output.contains("supported11008=true"), output);
    assertTrue(output.contains("rows=32 decoded=2048"), output);
    Path lib = FreshJvm.mappedLibrary(output);
    assertTrue(
        lib.toAbsolutePath().startsWith(cache.toRealPath()) || lib.startsWith(cache),
        "libquipsharp.so must come from the JavaCPP cache extracted from the jar, not from "
            + lib
            + "\noutput:\n"
            + output);
    try (var files = Files.walk(cache)) {
      List<String> extracted =
          files.map(Path::toString).filter(s -> s.endsWith(".so")).collect(Collectors.toList());
      assertTrue(
          extracted.stream().anyMatch(s -> s.endsWith("libjniQuipsharpNative.so")), extracted.toString());
    }
  }

  /** The packaged jars of the modules and their runtime dependencies, from this test's class path. */
  private static List<String> artifactJars() throws IOException {
    List<String> jars = new ArrayList<>();
    boolean bindings = false;
    boolean core = false;
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String name = Path.of(entry).getFileName().toString();
      if (name.startsWith("quipsharp-bindings")) {
        assertTrue(name.endsWith(".jar"), "bindings must be the packaged jar (run mvn verify): " + entry);
        bindings = true;
        jars.add(entry);
      } else if (name.startsWith("quipsharp-core")) {
        assertTrue(name.endsWith(".jar"), "core must be the packaged jar (run mvn verify): " + entry);
        core = true;
        jars.add(entry);
      } else if (name.startsWith("javacpp-") || name.startsWith("guava-")
          || name.startsWith("failureaccess-")) {
        jars.add(entry);
      }
    }
    assertTrue(bindings && core, "class path lacks the module jars: " + jars);
    assertFalse(jars.isEmpty());
    return jars;
  }
}
