package io.github.quipsharp.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.testing.SharedModels;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tokenizer.json loads from the Maven artifacts alone: a consumer compiled against the packaged
 * jars runs in a fresh JVM with an empty DJL cache folder; the Hugging Face tokenizers library it
 * maps must be the copy extracted from DJL's jar into that folder (nothing downloaded, nothing
 * found elsewhere), and the Llama 3 ids must be the README's.
 */
class TokenizerJarLoadingIT {
  private static final String CONSUMER =
      String.join(
          "\n",
          "import io.github.quipsharp.tokenizer.Tokenizer;",
          "import java.nio.file.*;",
          "public class TokConsumer {",
          "  public static void main(String[] a) throws Exception {",
          "    Tokenizer tok = Tokenizer.load(Paths.get(a[0]));",
          "    System.out.println(\"ids=\" + java.util.Arrays.toString(",
          "        tok.encode(\"Once upon a time\", true, false)));",
          FreshJvm.printMappedLibrary("libtokenizers.so"),
          "  }",
          "}",
          "");

  @Test
  void huggingFaceTokenizersLoadFromTheJarsInAFreshJvm(@TempDir Path tmp) throws Exception {
    Path llama3 = SharedModels.require("llama3-tokenizer/tokenizer.json");
    List<String> jars = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (entry.endsWith(".jar") && !Path.of(entry).getFileName().toString().startsWith("junit")) {
        jars.add(entry);
      }
    }
    assertTrue(
        jars.stream().anyMatch(j -> Path.of(j).getFileName().toString().startsWith("quipsharp-core")),
        "core must be the packaged jar (run mvn verify): " + jars);
    Path cache = Files.createDirectories(tmp.resolve("djl-cache"));
    String output =
        FreshJvm.run(
            tmp, "TokConsumer", CONSUMER, jars, List.of("-DDJL_CACHE_DIR=" + cache),
            List.of(llama3.toString()),
            "DJL_CACHE_DIR", "ENGINE_CACHE_DIR", "RUST_FLAVOR", "RUST_LIBRARY_PATH");
    assertTrue(output.contains("ids=[128000, 12805, 5304, 264, 892]"), output);
    Path lib = FreshJvm.mappedLibrary(output);
    assertTrue(
        lib.startsWith(cache.toRealPath()) || lib.startsWith(cache),
        "libtokenizers.so must be the copy from DJL's jar in " + cache + ", not " + lib
            + "\noutput:\n" + output);
    assertTrue(lib.toString().contains("cpu-linux-x86_64"), lib.toString());
  }
}
