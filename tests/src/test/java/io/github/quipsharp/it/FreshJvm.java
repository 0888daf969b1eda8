package io.github.quipsharp.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * A one-class consumer program compiled against the packaged jars and run in a fresh JVM whose
 * class path holds only those jars and the consumer, without LD_LIBRARY_PATH.
 */
final class FreshJvm {
  private FreshJvm() {}

  /**
   * Compiles {@code source} (class {@code name}, default package) against {@code jars}, runs it
   * with {@code jvmOptions} and {@code args}, and returns its output (stdout and stderr) after
   * checking that it ended with exit code 0 within two minutes.
   *
   * @param unsetEnv environment variables the child must not inherit
   */
  static String run(Path tmp, String name, String source, List<String> jars,
      List<String> jvmOptions, List<String> args, String... unsetEnv) throws Exception {
    Path src = tmp.resolve("src").resolve(name + ".java");
    Files.createDirectories(src.getParent());
    Files.writeString(src, source, StandardCharsets.UTF_8);
    Path classes = Files.createDirectories(tmp.resolve("classes"));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertNotNull(javac, "a JDK (not a JRE) is needed to compile the consumer");
    int rc =
        javac.run(
            null, null, null, "-cp", String.join(File.pathSeparator, jars), "-d",
            classes.toString(), src.toString());
    assertEquals(0, rc, "consumer compiles against the packaged jars");

    List<String> cp = new ArrayList<>(jars);
    cp.add(0, classes.toString());
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(String.join(File.pathSeparator, cp));
    command.add(name);
    command.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().remove("LD_LIBRARY_PATH");
    pb.environment().remove("JAVA_TOOL_OPTIONS");
    for (String v : unsetEnv) {
      pb.environment().remove(v);
    }
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "consumer finished");
    assertEquals(0, p.exitValue(), "consumer exit code; output:\n" + output);
    return output;
  }

  /**
   * Java statements for a consumer's main method that print "mapped=PATH" for the first mapping of
   * {@code library} in /proc/self/maps (the consumer imports java.nio.file.*).
   */
  static String printMappedLibrary(String library) {
    return String.join(
        "\n",
        "    for (String line : Files.readAllLines(Paths.get(\"/proc/self/maps\"))) {",
        "      if (line.contains(\"" + library + "\")) {",
        "        System.out.println(\"mapped=\" + line.substring(line.indexOf('/')));",
        "        break;",
        "      }",
        "    }");
  }

  /** The path after "mapped=" on the output line the consumer printed from /proc/self/maps. */
  static Path mappedLibrary(String output) {
    String mapped =
        output.lines().filter(l -> l.startsWith("mapped=")).findFirst().orElse("mapped=<none>");
    return Path.of(mapped.substring("mapped=".length()).trim());
  }
}
